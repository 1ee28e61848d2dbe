"""The steps of a run: land -> raw gates -> dbt build -> mart gates -> publish.

`ygt run` calls `run()`; the Dagster assets call the same step functions one by one, so
there is one way a run works.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from orchestration import dbt, duck, quality, refresh, settings
from orchestration.land import LandingError, land
from orchestration.docs import write_dbt_docs
from orchestration.export import export_parquet
from orchestration.publish import PublishResult, publish
from orchestration.report import write_quality_page, write_report

Progress = Callable[[str], None]
PERIOD_RE = re.compile(r"^(\d{4})(Q[1-4])?$")


class PipelineError(RuntimeError):
    """A run stopped; the message says what happened and what to do next."""


class PublicationRefused(PipelineError):
    """A blocking quality check failed: the previous warehouse stays in place."""


def periods_for(period: str | None) -> set[str] | None:
    """Which delivery folders a `--period` selects (None = every period found).

    `2024` selects the year's annual deliveries and its four quarters; `2024Q2` selects that
    quarter's deliveries and the year's annual registers (skipped if unchanged).
    """
    if period is None:
        return None
    m = PERIOD_RE.match(period)
    if not m:
        raise PipelineError(f"--period {period!r} is not YYYY or YYYYQn (for example 2024 or 2024Q2)")
    year = m.group(1)
    if m.group(2):
        return {period, year}
    return {year} | {f"{year}Q{q}" for q in range(1, 5)}


@dataclass
class RunResult:
    warehouse: Path
    work_db: Path
    landing: object = None
    raw_gates: object = None
    mart_gates: object = None
    published: PublishResult | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def land_step(
    landing: Path,
    work_db: Path,
    periods: set[str] | None,
    progress: Progress,
    force: bool = False,
    sources: set[str] | None = None,
):
    """Land the deliveries of `periods` (None = all) for `sources` (None = all; Dagster lands
    one source per asset)."""
    if not Path(landing).is_dir():
        raise PipelineError(f"landing folder {landing} does not exist; create it or run `ygt generate --out {landing}`")
    work_db.parent.mkdir(parents=True, exist_ok=True)
    con = duck.connect(work_db)
    try:
        return land(con, Path(landing), periods=periods, sources=sources, progress=progress, force=force)
    except LandingError as exc:
        raise PipelineError(f"{exc} — nothing was published; fix the delivery and run again") from exc
    finally:
        con.close()


def raw_gate_step(work_db: Path, periods: set[str] | None):
    con = duck.connect(work_db)
    try:
        return quality.run_raw_gates(con, periods=periods)
    finally:
        con.close()


ANSI = re.compile(r"\x1b\[[0-9;]*m")
DBT_NODE = re.compile(r"\b(\d+) of (\d+) (OK|PASS|WARN|ERROR|FAIL|SKIP)\b")


def condensed_dbt_progress(progress: Progress) -> Progress:
    """dbt prints a line per node; show one line per tenth of the nodes, every problem, and
    dbt's closing tally."""
    shown = {"step": -1}

    def forward(line: str) -> None:
        line = ANSI.sub("", line).strip()
        m = DBT_NODE.search(line)
        if m:
            done, total, status = int(m.group(1)), int(m.group(2)), m.group(3)
            step = done * 10 // total
            if status in ("WARN", "ERROR", "FAIL"):
                progress(f"   dbt {line.split('  ', 1)[-1].strip()}")
            elif step > shown["step"]:
                shown["step"] = step
                progress(f"   dbt {done}/{total} nodes")
        elif line.startswith(("Done.", "Finished running")) or "Database Error" in line:
            progress(f"   dbt {line.split('  ', 1)[-1].strip()}")

    return forward


def dbt_plan(work_db: Path, incremental: bool) -> list[str] | None:
    """The delivery periods the next build recomputes (None = all): see orchestration/refresh.py."""
    con = duck.connect(work_db)
    try:
        dbt.create_empty_raw_schema(con)  # sources not landed yet (or gates not run) read as empty
        return refresh.plan(con, dbt.dbt_vars()) if incremental else None
    finally:
        con.close()


def dbt_plan_args(periods: list[str] | None) -> tuple[dict[str, str], list[str]]:
    """(environment additions, extra `dbt build` arguments) for a build that recomputes
    `periods` (macros/incremental_refresh.sql reads YGT_REFRESH_PERIODS).

    A full build recreates the incremental models. An incremental one skips the unit tests:
    it only happens when the definitions are unchanged since the last successful build
    (refresh.plan), which ran them on this very code."""
    if periods is None:
        return {refresh.REFRESH_ENV: "null"}, ["--full-refresh"]
    return {refresh.REFRESH_ENV: json.dumps(periods)}, ["--exclude-resource-type", "unit_test"]


def dbt_record(work_db: Path, started: datetime, periods: list[str] | None) -> None:
    con = duck.connect(work_db)
    try:
        refresh.record(con, started, periods, dbt.dbt_vars())
    finally:
        con.close()


def describe_plan(periods: list[str] | None) -> str:
    if periods is None:
        return "recomputing every delivery period (full build, first build, changed definitions or facility register)"
    return f"recomputing delivery periods {', '.join(periods) or '(none new)'}; the others are kept"


def dbt_step(work_db: Path, progress: Progress, incremental: bool = False):
    """`dbt build`. Incremental: the heavy models recompute only the delivery periods landed
    since the last successful build; otherwise everything."""
    periods = dbt_plan(work_db, incremental)
    progress(f"   {describe_plan(periods)}")
    env, extra_args = dbt_plan_args(periods)
    started = datetime.now()
    result = dbt.build(work_db, env=env, extra_args=extra_args, progress=condensed_dbt_progress(progress))
    dbt_record(work_db, started, periods)
    return result


def mart_gate_step(work_db: Path, progress: Progress | None = None):
    con = duck.connect(work_db)
    try:
        result = quality.run_mart_gates(con)
    finally:
        con.close()
    # marts.data_quality was built before the mart checks ran: rebuild it to include them.
    dbt.build(work_db, select="data_quality", progress=condensed_dbt_progress(progress or (lambda m: None)))
    return result


def publish_step(work_db: Path, warehouse: Path, gates: list) -> PublishResult:
    blocking = [row for g in gates if g is not None for row in g.blocking_failures]
    if blocking:
        names = ", ".join(sorted({f"{r['check_id']} ({r['source']} {r['period']})" for r in blocking}))
        raise PublicationRefused(
            f"not published: {len(blocking)} blocking quality check(s) failed: {names}. "
            f"The previous warehouse {warehouse} is untouched. Details: table raw.dq_results in "
            f"{work_db} and the Data Docs; fix or re-deliver the files, then run again."
        )
    return publish(work_db, warehouse)


def outputs_step(warehouse: Path, work_db: Path) -> dict[str, Path]:
    """What is written next to a freshly published warehouse for people and tools without SQL."""
    warehouse = Path(warehouse)
    parquet_dir = warehouse.with_name(f"{warehouse.stem}_parquet")
    export_parquet(warehouse, parquet_dir)
    report = write_report(warehouse, warehouse.with_name(f"{warehouse.stem}_report.html"))
    docs = write_dbt_docs(work_db, warehouse.with_name(f"{warehouse.stem}_dbt_docs"))
    outputs = {"parquet": parquet_dir, "report": report, "dbt docs": docs}
    quality_page = warehouse.with_name(f"{warehouse.stem}_quality.html")
    outputs["quality page"] = write_quality_page(warehouse, quality_page)
    return outputs


def run(
    landing: Path,
    warehouse: Path,
    period: str | None = None,
    progress: Progress = print,
    force: bool = False,
) -> RunResult:
    warehouse = Path(warehouse).resolve()
    work_db = settings.work_db_for(warehouse)
    periods = periods_for(period)
    result = RunResult(warehouse=warehouse, work_db=work_db)

    def timed(name, fn, *args, **kw):
        t0 = time.perf_counter()
        progress(f"── {name}")
        out = fn(*args, **kw)
        result.seconds[name] = time.perf_counter() - t0
        return out

    result.landing = timed("land", land_step, Path(landing), work_db, periods, progress, force)
    progress(result.landing.summary())
    result.raw_gates = timed("raw quality gates", raw_gate_step, work_db, periods)
    progress(result.raw_gates.summary())
    # a run for one period is a quarterly refresh: only the new deliveries are recomputed
    timed("dbt build", dbt_step, work_db, progress, incremental=period is not None)
    result.mart_gates = timed("mart quality gates", mart_gate_step, work_db, progress)
    progress(result.mart_gates.summary())
    result.published = timed(
        "publish", publish_step, work_db, warehouse, [result.raw_gates, result.mart_gates]
    )
    result.outputs = timed("parquet, report and docs", outputs_step, warehouse, work_db)
    return result
