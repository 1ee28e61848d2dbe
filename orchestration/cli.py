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
import logging
import os
import signal
import sys
import time
from pathlib import Path

from orchestration import settings

settings.quiet_telemetry()


REPORTER = None  # the logging handler that shows the steps' messages (main sets it)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a command stopped by Ctrl-C
LOG = logging.getLogger("ygt.cli")


def _done_progress() -> None:
    """Clear the status line before a command's own output."""
    if REPORTER is not None:
        REPORTER.finish()


def _period(text: str | None) -> str | None:
    """`--period` as ygt writes periods: `2024q2` and the Dagster partition key `2024-04` are
    read as 2024Q2 (and the run says so); anything else is passed on for the usual refusal."""
    from orchestration.periods import PeriodError, period_frequency, period_of_partition_key

    if text is None:
        return None
    given = text.strip()
    period = given.upper()
    if period_frequency(period) is None:
        try:
            period = period_of_partition_key(given)
        except PeriodError:
            return given
    if period != given:
        why = "Dagster partition key" if "-" in given else "period"
        print(f"note: --period {given} ({why}) read as {period}", file=sys.stderr)
    return period


def _indicator(code: str | None) -> str | None:
    """An indicator code as the catalogue spells it (`i07` -> I07, `i10A` -> I10a)."""
    if code is None:
        return None
    codes = {c.lower(): c for c in _catalogue()}
    return codes.get(code.strip().lower(), code)


def _catalogue() -> dict[str, dict]:
    """The indicator catalogue (seeds/indicator_definitions.csv): code -> row."""
    from orchestration.catalogue import _read

    return {r["indicator_code"]: r for r in _read("indicator_definitions.csv")}


class Refused(RuntimeError):
    """A command refused before doing anything; exit 2 with the message."""


def _output_folder(path: str, create: bool, option: str) -> Path:
    """The file an output option names; its folder must exist unless --create-dir, as
    `ygt run --warehouse` (pipeline.output_path)."""
    from orchestration.pipeline import PipelineError, output_path

    try:
        return output_path(path, create, option)
    except PipelineError as exc:
        raise Refused(str(exc)) from None


def cmd_generate(args) -> int:
    from orchestration.generate import generate

    summary = generate(
        Path(args.out),
        counties=args.counties,
        years=tuple(args.years),
        scale=args.scale,
        seed=args.seed,
        progress=None,  # its messages are logged
        layouts=args.layouts,
    )
    LOG.info(
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
        with runlock.hold(work_db, wait=args.wait, progress=LOG.warning):
            report = pipeline.land_step(
                Path(args.landing),
                work_db,
                pipeline.periods_for(_period(args.period)),
                force=args.force,
            )
    except (pipeline.PipelineError, runlock.WarehouseBusy) as exc:
        _done_progress()
        print(f"ygt land: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        message = pipeline.storage_failure(
            exc, Path(args.warehouse), settings.work_db_for(Path(args.warehouse)), "landing"
        )
        if message is None:
            raise
        _done_progress()
        print(f"ygt land: {message}", file=sys.stderr)
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
            period=_period(args.period),
            force=args.force,
            allow_empty=args.allow_empty,
            create_dir=args.create_dir,
            wait=args.wait,
        )
    except pipeline.PipelineError as exc:
        _done_progress()
        print(f"ygt run: {exc}", file=sys.stderr)
        return 2
    _record_in_dagster(result)
    _done_progress()
    print(_run_summary(result, time.perf_counter() - t0))
    return 0


def _record_in_dagster(result) -> None:
    """Leave the run in the project's Dagster instance (the UI's history); never fail the run."""
    try:
        from dagster_project.history import record_run

        home = record_run(result)
        LOG.info(f"recorded in the Dagster instance {home} (open it with: dg dev)")
    except Exception as exc:  # the warehouse is published; the history is a convenience
        LOG.warning(f"note: could not record the run in Dagster ({type(exc).__name__}: {exc})")


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
        print(show(Path(args.warehouse), period=_period(args.period)))
        print()
        print(league_table(Path(args.warehouse)))
    except ShowError as exc:
        print(f"ygt show: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_report(args) -> int:
    from orchestration.report import write_report

    wh = Path(args.warehouse)
    if args.out:
        out = _output_folder(args.out, args.create_dir, "--out")
    else:
        out = wh.with_name(f"{wh.stem}_report.html")
    try:
        print(f"report: {write_report(wh, out)}")
    except FileNotFoundError as exc:
        print(f"ygt report: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_export(args) -> int:
    from orchestration.export import export_parquet

    wh = Path(args.warehouse)
    dest = Path(args.dest) if args.dest else wh.with_name(f"{wh.stem}_parquet")
    tables = export_parquet(wh, dest)
    print(f"exported {len(tables)} tables ({sum(tables.values())} rows) to {dest}")
    return 0


def cmd_contract(args) -> int:
    from orchestration import contract_help, dbt

    if args.dbt_sources:
        print(f"wrote {dbt.write_sources_yml()}")
        return 0
    sys.stdout.write(contract_help.render())
    return 0


def cmd_inspect(args) -> int:
    from orchestration.inspect import InspectError, inspect

    try:
        sys.stdout.write(inspect(Path(args.path), args.source, args.period))
    except (InspectError, ValueError) as exc:
        print(f"ygt inspect: {exc}", file=sys.stderr)
        return 2
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
        try:
            generate(
                landing,
                counties=args.counties,
                years=(2023, 2024),
                scale=args.scale,
                seed=7,
                progress=None,  # its messages are logged
            )
        except KeyboardInterrupt:  # a half-written landing folder must not pass for demo data
            raise pipeline.RunInterrupted(
                f"interrupted (Ctrl-C) while generating the demo data in {landing}: nothing was "
                f"published. Run `ygt demo --dir {demo} --regenerate` to start again."
            ) from None
    try:
        result = pipeline.run(landing, warehouse, create_dir=True, command="ygt demo")
    except pipeline.PipelineError as exc:
        _done_progress()
        print(f"ygt demo: {exc}", file=sys.stderr)
        return 2
    _record_in_dagster(result)
    _done_progress()
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

    period, indicator = _period(args.period), _indicator(args.indicator)
    try:
        if args.list:
            out = _output_folder(args.list, args.create_dir, "--list")
            n = ex.export_list(Path(args.warehouse), args.area, period, indicator, out)
            print(f"wrote {n} rows (reconciliation list of {indicator}) to {args.list}")
            return 0
        result = ex.explain(Path(args.warehouse), args.area, period, indicator, top=args.top)
    except ex.ExplainError as exc:
        print(f"ygt explain: {exc}", file=sys.stderr)
        return 2
    print(ex.render_json(result) if args.format == "json" else ex.render_text(result))
    return 0


def cmd_export_xlsx(args) -> int:
    from orchestration import workbook

    out = _output_folder(args.out, args.create_dir, "--out")
    try:
        out = workbook.write_workbook(Path(args.warehouse), args.year, out)
    except workbook.WorkbookError as exc:
        print(f"ygt export-xlsx: {exc}", file=sys.stderr)
        return 2
    print(f"workbook: {out}")
    return 0


def _indicator_help() -> str:
    """Every indicator of the catalogue, marking those with a reconciliation list (--list)."""
    from orchestration.explain import LISTS

    rows = _catalogue()
    lines = [
        f"  {code:<6}{r['name_zh']} {r['name_en']}" + ("  [--list]" if code in LISTS else "")
        for code, r in rows.items()
    ]
    return (
        "indicators (seeds/indicator_definitions.csv; codes are matched case-insensitively; "
        f"[--list]: a reconciliation list exists — {', '.join(sorted(LISTS))}):\n"
        + "\n".join(lines)
    )


def _command(sub, name: str, func, **kw) -> argparse.ArgumentParser:
    """The subcommand `name`, run by `func` (its help and description in `kw`)."""
    sp = sub.add_parser(name, **kw)
    sp.set_defaults(func=func)
    return sp


def _reader(sub, name: str, func, **kw) -> argparse.ArgumentParser:
    """A command that reads a published warehouse (--warehouse)."""
    sp = _command(sub, name, func, **kw)
    sp.add_argument("--warehouse", required=True, help=WAREHOUSE_HELP)
    return sp


def _create_dir(sp, option: str) -> None:
    sp.add_argument(
        "--create-dir",
        action="store_true",
        help=f"create the folder of {option} if it does not exist (default: refuse, it may be a typo)",
    )


def add_explain_parsers(sub) -> None:
    e = _reader(
        sub,
        "explain",
        cmd_explain,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_indicator_help(),
        help="explain one published value: rule, numerator/denominator, facilities, sources",
        description="Print, in Chinese with English beside it, what is behind one value of "
        "marts.indicator_values: the rule, numerator / denominator = value with units, the "
        "parameters in force, the value a year earlier and at the higher levels, the top "
        "facilities (marts.indicator_breakdown), the deliveries that fed it and their quality "
        "checks. Reads the published file alone, read-only. With --list, writes instead the "
        "reconciliation list (the persons counted; indicators marked [--list] below) from the "
        "working database. "
        "Exit 2 with the existing codes on an unknown area, period or indicator.",
    )
    e.add_argument(
        "--area", required=True, help="area code: county, city, province or 000000 (national)"
    )
    e.add_argument(
        "--period",
        required=True,
        help="YYYY or YYYYQn (year to date); 2024q2 and 2024-04 are read as 2024Q2",
    )
    e.add_argument(
        "--indicator",
        required=True,
        help="indicator code, e.g. I07 or i07 (the list below; marts.indicator_catalog)",
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
    _create_dir(e, "--list")
    x = _reader(
        sub,
        "export-xlsx",
        cmd_export_xlsx,
        help="write the provincial workbook (self-assessment layout) for a year",
        description="Write an .xlsx with one sheet per county in the layout of the self-assessment "
        "return (序号, 维度, 指标, 口径, 分子, 分母, 当期值, 单位, 数据来源, 上年值, 变化) and summary "
        "sheets per city and for the province, from the published warehouse (read-only).",
    )
    x.add_argument("--year", required=True, type=int, help="calendar year (annual values)")
    x.add_argument("--out", required=True, help="the .xlsx file to write")
    _create_dir(x, "--out")


# --- end explain and export-xlsx

WAREHOUSE_HELP = "the published warehouse, a DuckDB file (what `ygt run --warehouse` wrote)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ygt", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--version", action="version", version=f"ygt {_version()}")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print every detail as the steps report it (each delivery and file landed, dbt's "
        "progress, every quality warning); default: one line per step and what needs attention",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = _command(
        sub,
        "generate",
        cmd_generate,
        help="write a synthetic landing folder and its ground truth",
        description="Write a deterministic synthetic province (landing files exactly "
        "as the raw contract says, or in the national layouts with --layouts, with planted "
        "defects) and, next to it, "
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
    g.add_argument(
        "--layouts",
        choices=("contract", "national", "mixed"),
        default="contract",
        help="column layout of the files (default contract: the contract's own names, `ygt "
        "contract`); national: the shipped national layouts (orchestration/land/profiles/: "
        "front pages as N041 .dbf and HQMS .csv/.xlsx, insurance and every other source with "
        "Chinese headers, the roster as .xlsx with 男/女 and 是/否); mixed: the files of each "
        "delivery alternate between the two. Same records and ground truth in every layout",
    )

    def add_verbose(sp):  # `ygt run --verbose` as well as `ygt --verbose run`
        sp.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="print every detail as the steps report it (see ygt --help)",
        )

    def add_run_args(sp):
        add_verbose(sp)
        sp.add_argument(
            "--landing", required=True, help="landing folder: <landing>/<source>/<period>/<files>"
        )
        sp.add_argument(
            "--warehouse",
            required=True,
            help="the DuckDB file to publish (replaced atomically; BI tools open it read-only); "
            "its folder must exist (see --create-dir); the working database lives in "
            ".ygt-work/ beside it",
        )
        sp.add_argument(
            "--period",
            help="only this period: YYYY (year and its quarters) or YYYYQn; 2024q2 and the "
            "Dagster partition key 2024-04 are read as 2024Q2; default every period found",
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

    la = _command(
        sub,
        "land",
        cmd_land,
        help="land files into the working database only (no build, no publish)",
        description="Land the landing folder's deliveries into the working database "
        "(.ygt-work/ beside --warehouse): typed, pseudonymised, quarantined row by row, "
        "unchanged deliveries skipped. Nothing is built or published; `ygt run` does both.",
    )
    add_run_args(la)

    r = _command(
        sub,
        "run",
        cmd_run,
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

    s = _reader(
        sub,
        "show",
        cmd_show,
        help="print the headline indicators and the county league table of a published warehouse",
        description="Print the headline indicators (names from the indicator catalogue) per "
        "area for one period, and the county league table of marts.county_scorecard. Reads "
        "the published file read-only.",
    )
    s.add_argument("--period", help="period to show (default: the latest year)")

    rp = _reader(
        sub,
        "report",
        cmd_report,
        help="write the static HTML report of a published warehouse",
        description="Write the offline HTML report (league table, indicators against their "
        "targets, quarterly trends, county pages, data quality, load audit) of a published "
        "warehouse. `ygt run` writes it beside the warehouse after every publish.",
    )
    rp.add_argument("--out", help="HTML file (default <warehouse stem>_report.html beside it)")
    _create_dir(rp, "--out")

    ex = _reader(
        sub,
        "export",
        cmd_export,
        help="export the public marts tables to Parquet",
        description="Write every table of schema marts of a published warehouse as Parquet, "
        "one file per table (`ygt run` does this beside the warehouse after every publish).",
    )
    ex.add_argument("--dest", help="folder (default <warehouse stem>_parquet beside it)")

    c = _command(
        sub,
        "contract",
        cmd_contract,
        help="print the raw data contract (sources, columns, codes)",
        description="Print what each source must contain: folder layout, columns and their "
        "kinds, the date and date-time formats accepted, flag values, every code with its "
        "meaning and the other spellings accepted for it (from orchestration/contract.py and "
        "the seeds).",
    )
    c.add_argument(
        "--dbt-sources",
        action="store_true",
        help="regenerate models/staging/_sources.yml from the contract instead",
    )

    ins = _command(
        sub,
        "inspect",
        cmd_inspect,
        help="show what landing would make of a file or a delivery folder (nothing written)",
        description="The first thing to run on a new county's export. For each file: the "
        "layout profile its header matched and why, each contract column's source field, the "
        "fields nothing reads; then the delivery landed into memory: rows read = loaded + "
        "quarantined + duplicate, five parsed rows (identifiers as the start of their keyed "
        "hash, names dropped) and the quarantine reasons with counts. Source and period come "
        "from the path (<landing>/<source>/<period>/...) unless given; the landing folder's "
        "_profiles/ and, for name look-ups, its facilities/ register of the year are used. "
        "Profiles: docs/landing-profiles.md.",
    )
    ins.add_argument("path", help="a landing file or a <source>/<period>/ folder")
    ins.add_argument("--source", help="the source, when the path does not say it")
    ins.add_argument(
        "--period", help="the delivery period (YYYY or YYYYQn), when the path does not say it"
    )

    d = _command(
        sub,
        "demo",
        cmd_demo,
        help="generate demo data, run the whole pipeline, show the result",
        description="Generate a synthetic province in --dir (unless it is there), land, "
        "check, build and publish it as <dir>/warehouse.duckdb with its report, quality page, "
        "Parquet and dbt docs, and print the headline indicators and the league table.",
    )
    add_verbose(d)
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
    add_explain_parsers(sub)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ygt")
    except PackageNotFoundError:
        return "(not installed)"


def _interrupted(args, exc: KeyboardInterrupt) -> int:
    """Ctrl-C: one line — what was interrupted, the published warehouse's state, what next."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
    _done_progress()
    message = getattr(exc, "message", None)
    if message is None:
        warehouse = getattr(args, "warehouse", None)
        state = (
            f"the published warehouse {warehouse} is unchanged"
            if warehouse and args.command in ("run", "land")
            else "nothing was published"
        )
        message = f"interrupted (Ctrl-C): {state}. Run the same command again to go on."
    print(f"ygt {args.command}: {message}", file=sys.stderr)
    return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    global REPORTER
    args = build_parser().parse_args(argv)
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home()))
    from orchestration.progress import ROOT, Reporter

    REPORTER = Reporter(verbose=args.verbose)
    previous = REPORTER.install_interrupt()
    # the commands whose steps report; the others say what they have to say themselves
    shown = args.command in ("generate", "land", "run", "demo")
    if shown:
        logging.getLogger(ROOT).addHandler(REPORTER)
    try:
        return _main(args)
    finally:  # main() called in-process (tests): leave logging and SIGINT as they were
        if shown:
            logging.getLogger(ROOT).removeHandler(REPORTER)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _main(args) -> int:
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:
        return _interrupted(args, exc)
    except Refused as exc:
        print(f"ygt {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`ygt contract | head`): stop quietly, as CLI tools do. Point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # a step that took Ctrl-C for an error of its own
        from orchestration.pipeline import caused_by_interrupt

        if REPORTER.interrupted and caused_by_interrupt(exc):
            return _interrupted(args, KeyboardInterrupt())
        raise


if __name__ == "__main__":
    sys.exit(main())
