"""Spark parity: the same dbt project on DuckDB and on Spark gives the same indicator values.

    .venv/bin/python bench/spark_parity.py [--dir target/spark-parity] [--counties 3] [--scale 0.2]

`make test-spark` runs it (docs/scale.md). Steps, each printed with its time:

1. DuckDB: `ygt generate` a small province (2 years) and `ygt run` it (the embedded default).
2. Hand-over: the working database's raw tables as Parquet (orchestration/handover.py), with
   the last quarter of the quarterly sources held back at first.
3. Spark (dbt-spark session method, `.venv-spark`, profile target `spark`): register the
   hand-over as tables raw.*, then `dbt build` — seeds, models and unit tests (the data
   tests already ran on DuckDB in step 1 and only repeat there).
4. Quarterly refresh on Spark: the held-back quarter arrives, the tables are re-registered and
   `dbt run` recomputes only that delivery period in the incremental models
   (YGT_REFRESH_PERIODS, insert_overwrite of its `_period` partition).
5. Compare every row of marts.indicator_values (numerator, denominator, value, status;
   relative tolerance 1e-9; a null equals only a null; a row missing on either side is a
   difference) and print `spark parity: N/N values equal`. Exit 1 on any difference.

The Spark table is read back with DuckDB straight from its Parquet files in the Spark
warehouse folder, so only the Spark venv needs pyspark.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestration import duck, handover  # noqa: E402
from orchestration.settings import work_db_for  # noqa: E402

KEY = ("area_level", "area_code", "period", "indicator_code")
NUMBERS = ("numerator", "denominator", "value")
RTOL = 1e-9
QUARTERLY = (
    "outpatient_visits",
    "inpatient_discharges",
    "insurance_settlements",
    "remote_diagnoses",
)
T0 = time.perf_counter()


def say(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:6.0f}s] {msg}", flush=True)


def run(cmd: list[str], env: dict | None = None, log: Path | None = None) -> None:
    """Run a command; with `log`, keep its output there and show only dbt's own lines."""
    say("$ " + " ".join(str(c) for c in cmd))
    if log is None:
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)
        return
    with (
        open(log, "a", encoding="utf-8") as out,
        subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        ) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            # dbt's lines start with a HH:MM:SS time; Spark's JVM chatter goes to the log only
            if line[2:3] == ":" and line[5:6] == ":" and ("START" not in line):
                print("    " + line.rstrip()[:150], flush=True)
    if proc.returncode != 0:
        raise SystemExit(f"command failed (exit {proc.returncode}); full output in {log}")


def spark_env(spark_dir: Path, refresh: list[str] | None = None) -> dict:
    env = dict(
        os.environ,
        DBT_PROFILES_DIR=str(ROOT),
        YGT_SPARK_DIR=str(spark_dir),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
        DBT_USE_COLORS="false",
    )
    env.pop("YGT_REFRESH_PERIODS", None)
    if refresh is not None:
        env["YGT_REFRESH_PERIODS"] = json.dumps(refresh)
    return env


def read_values(con, relation: str) -> dict[tuple, tuple]:
    rows = con.execute(f"select {', '.join(KEY + NUMBERS)}, status from {relation}").fetchall()
    return {r[:4]: r[4:] for r in rows}


def same_number(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=0.0) or a == b


def compare(duck_rows: dict, spark_rows: dict) -> list[str]:
    diffs = []
    for key in sorted(set(duck_rows) | set(spark_rows), key=lambda k: tuple(str(x) for x in k)):
        d, s = duck_rows.get(key), spark_rows.get(key)
        if d is None or s is None:
            diffs.append(f"{key}: missing on {'DuckDB' if d is None else 'Spark'}")
            continue
        bad = [n for n, x, y in zip(NUMBERS, d[:3], s[:3]) if not same_number(x, y)]
        if d[3] != s[3]:
            bad.append("status")
        if bad:
            diffs.append(f"{key}: {', '.join(bad)} differ: DuckDB {d} vs Spark {s}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--dir",
        default=str(ROOT / "target" / "spark-parity"),
        help="scratch folder, emptied first (default target/spark-parity)",
    )
    ap.add_argument("--counties", type=int, default=3)
    ap.add_argument("--scale", type=float, default=0.2)
    ap.add_argument("--years", type=int, nargs="+", default=[2023, 2024])
    ap.add_argument("--spark-venv", default=str(ROOT / ".venv-spark"))
    args = ap.parse_args(argv)

    work = Path(args.dir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    landing, warehouse = work / "landing", work / "warehouse.duckdb"
    hand, held, spark_dir, log = (
        work / "handover",
        work / "held_back",
        work / "spark",
        work / "spark.log",
    )
    ygt = str(Path(sys.executable).parent / "ygt")
    dbt = str(Path(args.spark_venv) / "bin" / "dbt")
    if not Path(dbt).exists():
        raise SystemExit(f"{dbt} not found: create the Spark venv first (make test-spark does)")
    timings: dict[str, float] = {}

    def step(name: str, fn) -> None:
        say(f"── {name}")
        t = time.perf_counter()
        fn()
        timings[name] = time.perf_counter() - t
        say(f"   {name}: {timings[name]:.0f}s")

    step(
        "duckdb build",
        lambda: (
            run(
                [
                    ygt,
                    "generate",
                    "--out",
                    str(landing),
                    "--counties",
                    str(args.counties),
                    "--scale",
                    str(args.scale),
                    "--years",
                    *map(str, args.years),
                ]
            ),
            run([ygt, "run", "--landing", str(landing), "--warehouse", str(warehouse)]),
        ),
    )

    last_quarter = f"{max(args.years)}Q4"

    def export() -> None:
        con = duck.connect(work_db_for(warehouse), read_only=True)
        try:
            handover.export_raw(con, hand, progress=say)
        finally:
            con.close()
        for source in QUARTERLY:  # the last quarter arrives later (step 4)
            part = hand / source / f"{handover.PARTITION}={last_quarter}"
            if part.exists():
                (held / source).mkdir(parents=True)
                part.rename(held / source / part.name)
        say(f"   held back {last_quarter} of {', '.join(QUARTERLY)}")

    step("raw hand-over", export)

    register = [
        dbt,
        "run-operation",
        "register_raw_handover",
        "--args",
        json.dumps({"root": str(hand)}),
        "--target",
        "spark",
    ]
    common = ["--target", "spark", "--target-path", str(spark_dir / "dbt")]
    env = spark_env(spark_dir)

    def spark_full() -> None:
        run(register, env, log)
        run([dbt, "build", "--exclude", "test_type:data", *common], env, log)

    step(f"spark build without {last_quarter}", spark_full)

    def spark_refresh() -> None:
        for source in QUARTERLY:
            (held / source / f"{handover.PARTITION}={last_quarter}").rename(
                hand / source / f"{handover.PARTITION}={last_quarter}"
            )
        run(register, env, log)
        run([dbt, "run", *common], spark_env(spark_dir, [last_quarter]), log)

    step(f"spark refresh {last_quarter}", spark_refresh)

    say("── compare marts.indicator_values")
    con = duck.connect(":memory:")
    con.execute(f"attach {duck.lit(str(warehouse))} as pub (read_only)")
    duck_rows = read_values(con, "pub.marts.indicator_values")
    spark_files = spark_dir / "warehouse" / "marts.db" / "indicator_values" / "*.parquet"
    spark_rows = read_values(con, f"read_parquet({duck.lit(str(spark_files))})")
    diffs = compare(duck_rows, spark_rows)
    for d in diffs[:20]:
        say("   DIFF " + d)
    if len(diffs) > 20:
        say(f"   ... and {len(diffs) - 20} more")
    say("timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))
    total = len(set(duck_rows) | set(spark_rows))
    print(f"spark parity: {total - len(diffs)}/{total} values equal", flush=True)
    return 1 if diffs or not duck_rows else 0


if __name__ == "__main__":
    sys.exit(main())
