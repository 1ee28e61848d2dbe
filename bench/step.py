"""One pipeline step in its own process, so the benchmark can measure its peak memory.

    python bench/step.py land|raw_gates|dbt|mart_gates|publish|scan LANDING WAREHOUSE [PERIOD]

Prints one JSON line with the step's row count.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from orchestration import duck, pipeline, settings
from orchestration.duck import lit, lit_list
from orchestration.land import csv_delimiter, discover, header_line, sniff_encoding


def bare_scan(landing: Path) -> int:
    """One plain aggregate pass over the landing files: count(*) of every file.

    The floor the pipeline is compared with: every byte read once, no parsing or writing, and
    DuckDB at its fastest -- one multi-file read per delivery, encoding and format, with the CSV
    dialect given as the loader gives it (sniffing costs ~10 ms per file).
    """
    con = duck.connect()
    duck.load_extensions(con)
    rows = 0
    deliveries, _ = discover(landing)
    for delivery in deliveries:
        groups: dict[tuple[str, str, str], list[str]] = {}
        for path in delivery.files:
            suffix = path.suffix.lower()
            csv = suffix == ".csv"
            key = (suffix, sniff_encoding(path) if csv else "", csv_delimiter(header_line(path)) if csv else "")
            groups.setdefault(key, []).append(str(path))
        for (suffix, enc, delim), files in groups.items():
            listed = lit_list(files)
            if suffix == ".parquet":
                rels = [f"read_parquet({listed}, union_by_name = true)"]
            elif suffix == ".xlsx":  # read_xlsx takes one file
                rels = [f"read_xlsx({lit(f)}, all_varchar = true)" for f in files]
            else:
                enc = "utf-8" if enc.lower().startswith("utf") else "GB18030"
                rels = [f"read_csv({listed}, all_varchar = true, encoding = {lit(enc)}, union_by_name = true, "
                        f"delim = {lit(delim)}, quote = '\"', escape = '\"', strict_mode = false, ignore_errors = true)"]
            for rel in rels:
                rows += con.execute(f"select count(*) from {rel}").fetchone()[0]
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
    else:
        raise SystemExit(f"unknown step {step}")
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
