"""One pipeline step in its own process, so the benchmark can measure its peak memory.

    python bench/step.py land|raw_gates|dbt|mart_gates|publish|scan|run LANDING WAREHOUSE [PERIOD]

Prints one JSON line with the step's row count (`run`: the whole `ygt run` pipeline in this one
process, with the seconds of each of its steps).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from orchestration import duck, pipeline, settings
from orchestration.duck import lit, lit_list
from orchestration.land import (
    FileRejected,
    csv_delimiter,
    discover,
    header_line,
    sniff_encoding,
    transcode_to_utf8,
)


def bare_scan(landing: Path) -> int:
    """One plain aggregate pass over the landing files: count(*) of every file.

    The floor the pipeline is compared with, DuckDB at its fastest: one multi-file read per
    delivery and header line, the CSV dialect given as the loader gives it (sniffing costs ~10 ms
    per file). GB18030 files are read the way the loader reads them -- transcoded to UTF-8 in
    Python, then read by DuckDB -- which is ~15x faster than DuckDB's own GB18030 decoder (and
    that decoder is not correct in DuckDB 1.4, see orchestration/land/__init__.py).
    """
    con = duck.connect()
    duck.load_extensions(con)
    rows = 0
    deliveries, _ = discover(landing)
    with tempfile.TemporaryDirectory(prefix="ygt-scan-") as tmp:
        for delivery in deliveries:
            groups: dict[tuple[str, bytes], list[str]] = {}
            for i, path in enumerate(delivery.files):
                suffix = path.suffix.lower()
                if suffix == ".csv" and sniff_encoding(path) == "gb18030":
                    path = Path(tmp) / f"{i}.csv"
                    try:
                        transcode_to_utf8(delivery.files[i], path)
                    except FileRejected:  # unreadable: the loader reads no rows from it either
                        continue
                groups.setdefault(
                    (suffix, header_line(path) if suffix == ".csv" else b""), []
                ).append(str(path))
            for (suffix, header), files in groups.items():
                listed = lit_list(files)
                if suffix == ".parquet":
                    rels = [f"read_parquet({listed}, union_by_name = true)"]
                elif suffix == ".xlsx":  # read_xlsx takes one file
                    rels = [f"read_xlsx({lit(f)}, all_varchar = true)" for f in files]
                else:
                    rels = [
                        f"read_csv({listed}, all_varchar = true, delim = {lit(csv_delimiter(header))}, "
                        f"quote = '\"', escape = '\"', strict_mode = false, ignore_errors = true)"
                    ]
                for rel in rels:
                    rows += con.execute(f"select count(*) from {rel}").fetchone()[0]
            for f in Path(tmp).iterdir():
                f.unlink()
    return rows


def main() -> None:
    step, landing, warehouse = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]).resolve()
    period = sys.argv[4] if len(sys.argv) > 4 else None
    work_db = settings.work_db_for(warehouse)
    periods = pipeline.periods_for(period)
    rows = None
    if step == "land":
        report = pipeline.land_step(landing, work_db, periods, progress=lambda m: None)
        rows = sum(f.rows_read for f in report.files)
    elif step == "raw_gates":
        pipeline.raw_gate_step(work_db, periods)
    elif step == "dbt":
        # with a period: the quarterly refresh (only the newly landed deliveries recomputed)
        pipeline.dbt_step(work_db, progress=lambda m: None, incremental=period is not None)
    elif step == "mart_gates":
        pipeline.mart_gate_step(work_db)
    elif step == "publish":
        rows = sum(pipeline.publish_step(work_db, warehouse, []).tables.values())
    elif step == "scan":
        rows = bare_scan(landing)
    elif step == "run":  # the whole `ygt run` in one process, as a county statistician runs it
        result = pipeline.run(landing, warehouse, progress=lambda m: None)
        rows = sum(f.rows_read for f in result.landing.files)
        print(json.dumps({"rows": rows, "seconds_by_step": result.seconds}))
        return
    else:
        raise SystemExit(f"unknown step {step}")
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
