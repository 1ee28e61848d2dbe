"""`ygt` — build the county medical community monitoring warehouse from landing files.

Examples:
  ygt demo                                   generate demo data, build, check, publish, show
  ygt generate --out demo/landing            write a synthetic landing folder + ground truth
  ygt run --landing demo/landing --warehouse demo/warehouse.duckdb
  ygt run --landing /data/landing --warehouse /srv/ygt/warehouse.duckdb --period 2024Q2
  ygt show --warehouse demo/warehouse.duckdb
  ygt explain --warehouse demo/warehouse.duckdb --area 990121 --period 2024 --indicator I07
  ygt export-xlsx --warehouse demo/warehouse.duckdb --year 2024 --out demo/2024.xlsx
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from orchestration import settings

settings.quiet_telemetry()


VERBOSE = False


def _progress(msg: str) -> None:
    # Per-file read lines of the loader only with --verbose; rejected files always show.
    if not VERBOSE and msg.startswith("  ") and ": read " in msg:
        return
    print(msg, file=sys.stderr, flush=True)


def cmd_generate(args) -> int:
    from orchestration.generate import generate

    summary = generate(
        Path(args.out),
        counties=args.counties,
        years=tuple(args.years),
        scale=args.scale,
        seed=args.seed,
        progress=_progress,
    )
    _progress(
        f"generated {summary.get('files', '?')} files in {summary.get('seconds', 0):.1f}s "
        f"→ landing {args.out}, ground truth {summary.get('truth_dir', '')}"
    )
    return 0


def cmd_land(args) -> int:
    from orchestration import pipeline, runlock

    try:
        work_db = settings.work_db_for(
            pipeline.warehouse_folder(Path(args.warehouse), args.create_dir)
        )
        with runlock.hold(work_db, wait=args.wait, progress=_progress):
            report = pipeline.land_step(
                Path(args.landing),
                work_db,
                pipeline.periods_for(args.period),
                _progress,
                force=args.force,
            )
    except (pipeline.PipelineError, runlock.WarehouseBusy) as exc:
        print(f"ygt land: {exc}", file=sys.stderr)
        return 2
    print(report.summary(verbose=args.verbose))
    print(f"working database: {work_db}")
    return 0


def cmd_run(args) -> int:
    from orchestration import pipeline

    t0 = time.perf_counter()
    try:
        result = pipeline.run(
            Path(args.landing),
            Path(args.warehouse),
            period=args.period,
            progress=_progress,
            force=args.force,
            allow_empty=args.allow_empty,
            create_dir=args.create_dir,
            wait=args.wait,
        )
    except pipeline.PipelineError as exc:
        print(f"ygt run: {exc}", file=sys.stderr)
        return 2
    _record_in_dagster(result)
    print(_run_summary(result, time.perf_counter() - t0))
    return 0


def _record_in_dagster(result) -> None:
    """Leave the run in the project's Dagster instance (the UI's history); never fail the run."""
    try:
        from dagster_project.history import record_run

        home = record_run(result)
        _progress(f"recorded in the Dagster instance {home} (open it with: dg dev)")
    except Exception as exc:  # the warehouse is published; the history is a convenience
        _progress(f"note: could not record the run in Dagster ({type(exc).__name__}: {exc})")


def _run_summary(result, seconds: float) -> str:
    pub = result.published
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    lines = [
        f"published {pub.warehouse} ({pub.bytes / 1e6:.1f} MB, "
        f"{sum(pub.tables.values())} rows in {len(pub.tables)} tables) in {seconds:.1f}s",
        f"steps: {steps}",
        f"working database (raw, staging, intermediate): {result.work_db}",
    ]
    for name, path in result.outputs.items():
        lines.append(f"{name}: {path}")
    return "\n".join(lines)


def cmd_show(args) -> int:
    from orchestration.show import ShowError, league_table, show

    try:
        print(show(Path(args.warehouse), period=args.period))
        print()
        print(league_table(Path(args.warehouse)))
    except ShowError as exc:
        print(f"ygt show: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_report(args) -> int:
    from orchestration.report import write_report

    wh = Path(args.warehouse)
    out = Path(args.out) if args.out else wh.with_name(f"{wh.stem}_report.html")
    print(f"report: {write_report(wh, out)}")
    return 0


def cmd_export(args) -> int:
    from orchestration.export import export_parquet

    wh = Path(args.warehouse)
    dest = Path(args.dest) if args.dest else wh.with_name(f"{wh.stem}_parquet")
    tables = export_parquet(wh, dest)
    print(f"exported {len(tables)} tables ({sum(tables.values())} rows) to {dest}")
    return 0


def cmd_contract(args) -> int:
    from orchestration import contract, dbt

    if args.dbt_sources:
        print(f"wrote {dbt.write_sources_yml()}")
        return 0
    for src in contract.SOURCES:
        period = "YYYY" if src.frequency == "annual" else "YYYYQn"
        print(f"{src.name}/{period}/  — {src.doc}")
        for col in src.columns:
            flags = [col.kind]
            if not col.required:
                flags.append("optional")
            if col.enum:
                flags.append("one of " + " ".join(col.enum))
            if col.kind == "pii_hash":
                flags.append(f"stored only as keyed hash {col.hash_as}")
            if col.kind == "pii_drop":
                flags.append("dropped at landing")
            print(f"    {col.name:<22} {', '.join(flags)}")
    return 0


def cmd_demo(args) -> int:
    from orchestration import pipeline
    from orchestration.generate import generate
    from orchestration.show import league_table, show

    demo = Path(args.dir)
    landing = demo / "landing"
    warehouse = demo / "warehouse.duckdb"
    t0 = time.perf_counter()
    if args.regenerate or not landing.exists():
        generate(
            landing,
            counties=args.counties,
            years=(2023, 2024),
            scale=args.scale,
            seed=7,
            progress=_progress,
        )
    try:
        result = pipeline.run(
            landing, warehouse, progress=_progress, create_dir=True, command="ygt demo"
        )
    except pipeline.PipelineError as exc:
        print(f"ygt demo: {exc}", file=sys.stderr)
        return 2
    _record_in_dagster(result)
    print()
    print(show(warehouse))
    print()
    print(league_table(warehouse))
    print()
    print(_run_summary(result, time.perf_counter() - t0))
    print(
        f"next: open {result.outputs['report']} in a browser, or open {result.warehouse} read-only in any "
        f"DuckDB client (example queries: docs/analyst_queries.sql)"
    )
    return 0


# --- explain and export-xlsx (issue 18): logic in orchestration/explain.py and workbook.py
def cmd_explain(args) -> int:
    from orchestration import explain as ex

    try:
        if args.list:
            n = ex.export_list(
                Path(args.warehouse), args.area, args.period, args.indicator, Path(args.list)
            )
            print(f"wrote {n} rows (reconciliation list of {args.indicator}) to {args.list}")
            return 0
        result = ex.explain(
            Path(args.warehouse), args.area, args.period, args.indicator, top=args.top
        )
    except ex.ExplainError as exc:
        print(f"ygt explain: {exc}", file=sys.stderr)
        return 2
    print(ex.render_json(result) if args.format == "json" else ex.render_text(result))
    return 0


def cmd_export_xlsx(args) -> int:
    from orchestration import workbook

    try:
        out = workbook.write_workbook(Path(args.warehouse), args.year, Path(args.out))
    except workbook.WorkbookError as exc:
        print(f"ygt export-xlsx: {exc}", file=sys.stderr)
        return 2
    print(f"workbook: {out}")
    return 0


def add_explain_parsers(sub) -> None:
    e = sub.add_parser(
        "explain",
        help="explain one published value: rule, numerator/denominator, facilities, sources",
        description="Print, in Chinese with English beside it, what is behind one value of "
        "marts.indicator_values: the rule, numerator / denominator = value with units, the "
        "parameters in force, the value a year earlier and at the higher levels, the top "
        "facilities (marts.indicator_breakdown), the deliveries that fed it and their quality "
        "checks. Reads the published file alone, read-only. With --list, writes instead the "
        "reconciliation list (I13, I13x: cohort members admitted) from the working database. "
        "Exit 2 with the existing codes on an unknown area, period or indicator.",
    )
    e.add_argument("--warehouse", required=True, help="published DuckDB file")
    e.add_argument(
        "--area", required=True, help="area code: county, city, province or 000000 (national)"
    )
    e.add_argument("--period", required=True, help="YYYY or YYYYQn (year to date)")
    e.add_argument(
        "--indicator", required=True, help="indicator code, e.g. I07 (see marts.indicator_catalog)"
    )
    e.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json for tools",
    )
    e.add_argument("--top", type=int, default=10, help="facilities to list (default 10)")
    e.add_argument(
        "--list",
        metavar="FILE.csv",
        help="write the reconciliation list (pseudonymised keys) "
        "from the working database to this CSV instead",
    )
    e.set_defaults(func=cmd_explain)
    x = sub.add_parser(
        "export-xlsx",
        help="write the provincial workbook (self-assessment layout) for a year",
        description="Write an .xlsx with one sheet per county in the layout of the self-assessment "
        "return (序号, 维度, 指标, 口径, 分子, 分母, 当期值, 单位, 数据来源, 上年值, 变化) and summary "
        "sheets per city and for the province, from the published warehouse (read-only).",
    )
    x.add_argument("--warehouse", required=True, help="published DuckDB file")
    x.add_argument("--year", required=True, type=int, help="calendar year (annual values)")
    x.add_argument("--out", required=True, help="the .xlsx file to write")
    x.set_defaults(func=cmd_export_xlsx)


# --- end explain and export-xlsx


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ygt", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show every landed file, not one line per delivery",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser(
        "generate",
        help="write a synthetic landing folder and its ground truth",
        description="Write a deterministic synthetic province (landing files exactly "
        "as the raw contract says, with planted defects) and, next to it, "
        "ground_truth/ with every indicator's numerator and denominator. While it runs, "
        "settlement rows wait for their county's file in .generate-parts/ beside the "
        "landing folder (removed at the end).",
    )
    g.add_argument(
        "--out",
        required=True,
        help="landing folder to write (ground truth goes to its sibling ground_truth/)",
    )
    g.add_argument("--counties", type=int, default=6, help="number of counties (default 6)")
    g.add_argument(
        "--years",
        type=int,
        nargs="+",
        default=[2023, 2024],
        help="years to generate (default 2023 2024)",
    )
    g.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="volume multiplier (default 1.0 = demo size, about 12k outpatient visits per "
        "county and year; 100 counties at scale 40 are about 50M visits a year)",
    )
    g.add_argument(
        "--seed", type=int, default=7, help="random seed (default 7); same seed, same files"
    )
    g.set_defaults(func=cmd_generate)

    def add_run_args(sp):
        sp.add_argument(
            "--landing", required=True, help="landing folder: <landing>/<source>/<period>/<files>"
        )
        sp.add_argument(
            "--warehouse",
            required=True,
            help="published DuckDB file (the working database lives in .ygt-work/ beside it)",
        )
        sp.add_argument(
            "--period",
            help="only this period: YYYY (year and its quarters) or YYYYQn; default every period found",
        )
        sp.add_argument(
            "--force",
            action="store_true",
            help="re-land deliveries even if their files are unchanged",
        )
        sp.add_argument(
            "--wait",
            action="store_true",
            help="if another run holds the warehouse, wait for it instead of stopping",
        )
        sp.add_argument(
            "--create-dir",
            action="store_true",
            help="create the warehouse's folder if it does not exist (default: refuse, it may be a typo)",
        )

    la = sub.add_parser(
        "land", help="land files into the working database only (no build, no publish)"
    )
    add_run_args(la)
    la.set_defaults(func=cmd_land)

    r = sub.add_parser(
        "run",
        help="land, check, build and publish the warehouse atomically",
        description="Land the landing folder, run the raw quality gates, build the dbt "
        "models, run the mart gates and publish the warehouse file atomically. "
        "With --period it is a quarterly refresh: the heavy models recompute only "
        "the deliveries landed since the last build (same result as a full build); "
        "without it everything is rebuilt. "
        "A --period run with nothing landed since the last build skips dbt. "
        "Refused (nothing landed or published): no delivery for the period; a "
        "quarterly refresh of a warehouse without the year's earlier quarters; "
        "another run holding the warehouse (see --wait). "
        "Exit 0 on success; 2 when a blocking quality check or an error stops "
        "publication (the previous warehouse is then untouched). Each run is "
        "recorded in the project's Dagster instance (DAGSTER_HOME, default .dagster/).",
    )
    add_run_args(r)
    r.add_argument(
        "--allow-empty",
        action="store_true",
        help="publish even if the build computed no indicator value (default: refuse)",
    )
    r.set_defaults(func=cmd_run)

    s = sub.add_parser(
        "show",
        help="print the headline indicators and the county league table of a published warehouse",
    )
    s.add_argument("--warehouse", required=True)
    s.add_argument("--period", help="period to show (default: the latest year)")
    s.set_defaults(func=cmd_show)

    rp = sub.add_parser("report", help="write the static HTML report of a published warehouse")
    rp.add_argument("--warehouse", required=True)
    rp.add_argument("--out", help="HTML file (default <warehouse stem>_report.html beside it)")
    rp.set_defaults(func=cmd_report)

    ex = sub.add_parser("export", help="export the public marts tables to Parquet")
    ex.add_argument("--warehouse", required=True)
    ex.add_argument("--dest", help="folder (default <warehouse stem>_parquet beside it)")
    ex.set_defaults(func=cmd_export)

    c = sub.add_parser("contract", help="print the raw data contract (sources, columns, codes)")
    c.add_argument(
        "--dbt-sources",
        action="store_true",
        help="regenerate models/staging/_sources.yml from the contract instead",
    )
    c.set_defaults(func=cmd_contract)

    d = sub.add_parser("demo", help="generate demo data, run the whole pipeline, show the result")
    d.add_argument(
        "--dir",
        default="demo",
        help="folder for landing data, warehouse and reports (default demo/)",
    )
    d.add_argument("--counties", type=int, default=6, help="counties to generate (default 6)")
    d.add_argument("--scale", type=float, default=1.0, help="volume multiplier (default 1.0)")
    d.add_argument(
        "--regenerate", action="store_true", help="regenerate the landing folder even if it exists"
    )
    d.set_defaults(func=cmd_demo)
    add_explain_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    global VERBOSE
    args = build_parser().parse_args(argv)
    VERBOSE = args.verbose
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home()))
    try:
        return args.func(args)
    except BrokenPipeError:
        # the reader went away (`ygt contract | head`): stop quietly, as CLI tools do. Point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
