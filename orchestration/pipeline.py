"""The steps of a run: land -> raw gates -> dbt build -> mart gates -> publish.

`ygt run` calls `run()`; the Dagster assets call the same step functions one by one, so
there is one way a run works. The steps report through the `ygt` loggers (`ygt.pipeline`
here; orchestration/progress.py says what the levels and fields mean).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from orchestration import contract, dbt, duck, quality, refresh, runlock, settings
from orchestration.docs import write_dbt_docs
from orchestration.export import export_parquet
from orchestration.land import LandingError, discover, land
from orchestration.periods import PeriodError, parse_period, period_selection, quarters_of
from orchestration.progress import relayed
from orchestration.publish import PublishResult, publish
from orchestration.report import write_quality_page, write_report
from orchestration.report.pages import link_dbt_docs

Progress = Callable[[str], None]
LOG = logging.getLogger("ygt.pipeline")


class PipelineError(RuntimeError):
    """A run stopped; the message says what happened and what to do next."""


class PublicationRefused(PipelineError):
    """A blocking quality check failed: the previous warehouse stays in place."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a run; `message` says in which step, what state the published
    warehouse is in and how to go on. A KeyboardInterrupt, so nothing catches it by accident."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def periods_for(period: str | None) -> set[str] | None:
    """Which delivery folders a `--period` selects (None = every period found).

    `2024` selects the year's annual deliveries and its four quarters; `2024Q2` selects that
    quarter's deliveries and the year's annual registers (skipped if unchanged).
    """
    if period is None:
        return None
    try:
        return period_selection(period)
    except PeriodError as exc:
        raise PipelineError(f"--period {exc}") from None


QUARTERLY_SOURCES = [s.name for s in contract.SOURCES if s.frequency == "quarterly"]


def previous_warehouse_note(warehouse: Path) -> str:
    """What a refusal says about the published file: it is untouched, or there is none yet."""
    if Path(warehouse).exists():
        return f"The previous warehouse {warehouse} is untouched."
    return f"No warehouse was published ({warehouse} does not exist yet)."


def _landed_periods(work_db: Path) -> set[str]:
    """Delivery periods of the quarterly sources already in the working database."""
    if not Path(work_db).exists():
        return set()
    con = duck.connect(work_db)
    try:
        return {
            p
            for (p,) in con.execute(
                "select distinct period from raw.deliveries where source in "
                + duck.lit_list(QUARTERLY_SOURCES)
            ).fetchall()
        }
    except duckdb.CatalogException:  # nothing landed yet
        return set()
    finally:
        con.close()


def check_periods(
    landing: Path,
    work_db: Path,
    warehouse: Path,
    period: str | None,
    periods: set[str] | None,
    command: str = "ygt run",
) -> None:
    """Refuse, before anything is landed, a run that would land nothing, and a quarterly refresh
    of a warehouse that lacks the year's earlier quarters (year-to-date values and the
    cross-quarter checks such as R24, reversals of earlier settlements, need them)."""
    try:
        deliveries, _ = discover(landing, periods)
        found = sorted({d.period for d in discover(landing)[0]})
    except LandingError as exc:
        raise PipelineError(f"{exc}; create it or run `ygt generate --out {landing}`") from None
    if not deliveries:
        what = f"for --period {period}" if period else "at all"
        raise PipelineError(
            f"the landing folder {landing} holds no deliveries {what} "
            f"(periods found: {', '.join(found) or 'none'}; layout <landing>/<source>/<period>/). "
            f"Nothing was landed or published. {previous_warehouse_note(warehouse)}"
        )
    year, quarter = parse_period(period) if period else (0, None)
    if not quarter or quarter == 1:
        return
    earlier = quarters_of(year, quarter - 1)
    missing = [p for p in earlier if p not in _landed_periods(work_db)]
    if not missing:
        return
    in_folder = [p for p in missing if p in found]
    where = (
        f"the landing folder holds {', '.join(in_folder)}"
        if in_folder
        else "the landing folder does not hold them either"
    )
    args = f"--landing {landing} --warehouse {warehouse}"
    raise PipelineError(
        f"--period {period} is a quarterly refresh, but this warehouse has no {', '.join(missing)} "
        f"landed yet ({where}). Year-to-date indicators and the cross-quarter checks (R24: "
        f"reversals of earlier settlements) need the earlier quarters of the year. Land the year "
        f"first: `{command} {args} --period {year}` (or the missing quarters one by one, "
        f"--period {missing[0]} …), or run without --period to build everything delivered. "
        f"Nothing was landed or published. {previous_warehouse_note(warehouse)}"
    )


@dataclass
class RunResult:
    warehouse: Path
    work_db: Path
    landing: object = None
    raw_gates: object = None
    mart_gates: object = None
    dbt: object = None  # dbt.DbtResult, None when the build was skipped (nothing new)
    published: PublishResult | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def land_step(
    landing: Path,
    work_db: Path,
    periods: set[str] | None,
    progress: Progress | None = None,
    force: bool = False,
    sources: set[str] | None = None,
):
    """Land the deliveries of `periods` (None = all) for `sources` (None = all; Dagster lands
    one source per asset). `progress`, if given, gets each message's text as well."""
    if not Path(landing).is_dir():
        raise PipelineError(
            f"landing folder {landing} does not exist; create it or run `ygt generate --out {landing}`"
        )
    work_db.parent.mkdir(parents=True, exist_ok=True)
    con = duck.connect(work_db)
    try:
        with relayed(progress):
            return land(
                con, Path(landing), periods=periods, sources=sources, progress=None, force=force
            )
    except LandingError as exc:
        if _disk_full(exc.report, work_db):
            raise OSError(28, "No space left on device (a delivery could not be written)") from exc
        raise PipelineError(
            f"{exc} — nothing was published; fix the delivery and run again"
        ) from exc
    finally:
        con.close()


LOW_SPACE = 64 * 2**20  # bytes free below which a delivery's failed write is taken as a full disk


def _disk_full(report, work_db: Path) -> bool:
    """Whether the deliveries that failed to land failed for want of disk space. The loader
    withholds DuckDB's error text (it can quote values), so its message only names the kind of
    error (an I/O or a transaction error); a failed delivery with almost no space left where the
    working database lives is a full disk."""
    if not any(d.status == "failed" for d in getattr(report, "deliveries", [])):
        return False
    try:
        return shutil.disk_usage(Path(work_db).parent).free < LOW_SPACE
    except OSError:
        return False


def raw_gate_step(work_db: Path, periods: set[str] | None):
    con = duck.connect(work_db)
    try:
        return quality.run_raw_gates(con, periods=periods)
    finally:
        con.close()


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

    A full build recreates the incremental models. No build of a warehouse runs dbt's unit
    tests: their inputs are fixed rows in the YAML, not the landed data, so they say the same
    on every run of the same code (dbt's own advice is to run them in development and CI only).
    The test suite runs them (tests/python/test_dbt_models.py); they were ~20% of a county's
    full build."""
    skip_unit = ["--exclude-resource-type", "unit_test"]
    if periods is None:
        return {refresh.REFRESH_ENV: "null"}, ["--full-refresh", *skip_unit]
    return {refresh.REFRESH_ENV: json.dumps(periods)}, skip_unit


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


NOTHING_NEW = (
    "dbt build skipped: nothing landed since the last successful build and the "
    "definitions are unchanged, so every model is up to date"
)


@dataclass
class DbtBuildPlan:
    """One planned `dbt build` of the working database: the delivery periods it recomputes
    (None: every period), the environment additions and extra arguments that say so. The
    caller runs dbt with them; `succeeded = False` keeps a build from being recorded."""

    periods: list[str] | None
    env: dict[str, str]
    extra_args: list[str]
    succeeded: bool = True


@contextmanager
def planned_dbt_build(work_db: Path, incremental: bool) -> Iterator[DbtBuildPlan | None]:
    """The one path of a `dbt build`, for `ygt run` (dbt_step) and the Dagster asset
    (dagster_project/assets.ygt_dbt_models): plan the periods, say what will be done, give the
    caller the plan to run dbt with — or None when nothing landed since the last successful
    build and the definitions are unchanged (skip it) — and record the build in
    raw.dbt_builds when the caller's block ends without an error (refresh.record)."""
    periods = dbt_plan(work_db, incremental)
    if periods == []:
        LOG.info(f"   {NOTHING_NEW}")
        yield None
        return
    LOG.debug(f"   {describe_plan(periods)}")
    env, extra_args = dbt_plan_args(periods)
    plan = DbtBuildPlan(periods, env, extra_args)
    started = datetime.now()
    yield plan
    if plan.succeeded:
        dbt_record(work_db, started, periods)


def dbt_step(work_db: Path, progress: Progress | None = None, incremental: bool = False):
    """`dbt build`. Incremental: the heavy models recompute only the delivery periods landed
    since the last successful build, and nothing at all (None returned) when there are none;
    otherwise everything. `progress`, if given, gets each message's text as well."""
    with relayed(progress), planned_dbt_build(work_db, incremental) as plan:
        if plan is None:
            return None
        return dbt.build(work_db, env=plan.env, extra_args=plan.extra_args)


def mart_gate_step(work_db: Path):
    """The mart gates; their results reach marts.data_quality, a view over raw.dq_results."""
    con = duck.connect(work_db)
    try:
        return quality.run_mart_gates(con)
    finally:
        con.close()


def _computed_values(work_db: Path) -> int:
    con = duck.connect(work_db, read_only=True)
    try:
        return con.execute("select count(value) from marts.indicator_values").fetchone()[0]
    except duckdb.CatalogException:
        return 0
    finally:
        con.close()


def publish_step(
    work_db: Path, warehouse: Path, gates: list, allow_empty: bool = False
) -> PublishResult:
    warehouse = Path(warehouse)
    blocking = [row for g in gates if g is not None for row in g.blocking_failures]
    if blocking:
        names = ", ".join(
            sorted({f"{r['check_id']} ({r['source']} {r['period']})" for r in blocking})
        )
        raise PublicationRefused(
            f"not published: {len(blocking)} blocking quality check(s) failed: {names}. "
            f"{previous_warehouse_note(warehouse)} Details: table raw.dq_results in "
            f"{work_db} and the Data Docs; fix or re-deliver the files, then run again."
        )
    if not allow_empty and _computed_values(work_db) == 0:
        raise PublicationRefused(
            "not published: the build computed no indicator value (marts.indicator_values has "
            f"no non-null value), so the warehouse would be empty. {previous_warehouse_note(warehouse)} "
            "Check that the landing folder holds the period's visits and settlements; "
            "pass --allow-empty to publish an empty warehouse anyway."
        )
    try:
        return publish(work_db, warehouse)
    except (OSError, duckdb.Error) as exc:
        raise PipelineError(_publish_failure(exc, warehouse)) from exc


NO_SPACE = ("no space left", "file too large", "disk quota", "enospc", "efbig")
NOT_ALLOWED = ("permission denied", "read-only file system", "operation not permitted")


def _publish_failure(exc: Exception, warehouse: Path) -> str:
    """One message for a publish that could not write its new file (full disk, read-only
    folder): what happened, that nothing changed, and what to do."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = reason.lower()
    folder = warehouse.parent
    size = (
        f" (the current one is {warehouse.stat().st_size / 1e6:.1f} MB)"
        if warehouse.exists()
        else ""
    )
    if any(k in low for k in NO_SPACE):
        what = (
            f"the disk holding {folder} is full",
            f"free space there — the new file needs "
            f"about as much as the warehouse{size} — and run again",
        )
    elif any(k in low for k in NOT_ALLOWED):
        what = (
            f"the folder {folder} is not writable for this user",
            "make it writable (or choose another --warehouse) and run again",
        )
    else:
        what = (
            f"the new warehouse file could not be written in {folder}",
            "fix the cause and run again",
        )
    return (
        f"not published: {what[0]} ({reason}). {previous_warehouse_note(warehouse)} No "
        f"temporary file was left. The build is kept in the working database: {what[1]}."
    )


def outputs_step(warehouse: Path, work_db: Path) -> dict[str, Path]:
    """What is written next to a freshly published warehouse for people and tools without SQL."""
    warehouse = Path(warehouse)
    parquet_dir = warehouse.with_name(f"{warehouse.stem}_parquet")
    export_parquet(warehouse, parquet_dir)
    report = write_report(warehouse, warehouse.with_name(f"{warehouse.stem}_report.html"))
    docs = write_dbt_docs(work_db, warehouse.with_name(f"{warehouse.stem}_dbt_docs"))
    link_dbt_docs(warehouse)  # the report and the quality page link to it and it back to them
    outputs = {"parquet": parquet_dir, "report": report, "dbt docs": docs}
    quality_page = warehouse.with_name(f"{warehouse.stem}_quality.html")
    outputs["quality page"] = write_quality_page(warehouse, quality_page)
    return outputs


def output_path(path: Path | str, create: bool = False, option: str = "--warehouse") -> Path:
    """The resolved path an output option names; its folder must exist unless `create`
    (--create-dir): a typo must not create a tree."""
    out = Path(path).resolve()
    if not out.parent.is_dir():
        if not create:
            raise PipelineError(
                f"the folder of {option} {path} does not exist ({out.parent}); "
                "check the path for a typo, create the folder, or pass --create-dir"
            )
        out.parent.mkdir(parents=True)
    return out


def warehouse_folder(warehouse: Path, create: bool = False) -> Path:
    """The resolved warehouse path; its folder must exist (a typo must not create a tree)."""
    return output_path(warehouse, create, "--warehouse")


def run(
    landing: Path,
    warehouse: Path,
    period: str | None = None,
    progress: Progress | None = None,
    force: bool = False,
    allow_empty: bool = False,
    create_dir: bool = False,
    wait: bool = False,
    command: str = "ygt run",
) -> RunResult:
    """One whole run, holding the warehouse's run lock (orchestration/runlock.py) throughout.
    `progress`, if given, gets each message's text as well (the messages are logged)."""
    warehouse = warehouse_folder(warehouse, create_dir)
    work_db = settings.work_db_for(warehouse)
    periods = periods_for(period)
    try:
        with relayed(progress), runlock.hold(work_db, wait=wait, progress=LOG.warning):
            return _run_locked(
                Path(landing), warehouse, work_db, period, periods, force, allow_empty, command
            )
    except runlock.WarehouseBusy as exc:
        raise PipelineError(str(exc)) from None
    except OSError as exc:  # the run lock's file (the steps' own errors are handled inside)
        message = storage_failure(exc, warehouse, work_db, "taking the run lock")
        if message is None:
            raise
        raise PipelineError(message) from None
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        # another program (a DuckDB shell, a Dagster run) has the working database open
        raise PipelineError(
            f"the working database {work_db} is open in another program "
            f"({str(exc).splitlines()[0]}). Close it (or wait for that run) and run again. "
            f"{previous_warehouse_note(warehouse)}"
        ) from None


def _landing_line(report) -> str:
    t = report.totals
    parts = [f"{t['deliveries_landed']} deliveries landed"]
    if t["deliveries_skipped"]:
        parts.append(f"{t['deliveries_skipped']} unchanged (skipped)")
    if t["deliveries_failed"]:
        parts.append(f"{t['deliveries_failed']} FAILED")
    rows = (
        f"{t['files']:,} files ({t['files_rejected']} rejected), rows read {t['rows_read']:,} = "
        f"loaded {t['rows_loaded']:,} + quarantined {t['rows_quarantined']:,} + duplicate "
        f"{t['rows_duplicate']:,}"
    )
    return ", ".join(parts) + (f"; {rows}" if t["files"] else "")


def _dbt_line(result) -> str:
    if result is None:
        return "skipped: nothing landed since the last successful build"
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts.items()))
    return f"{len(result.results)} nodes: {counts}" if result.results else "done"


def _published_line(pub) -> str:
    return (
        f"{pub.warehouse.name} ({pub.bytes / 1e6:.1f} MB, {sum(pub.tables.values()):,} rows in "
        f"{len(pub.tables)} tables)"
    )


def log_landing(report) -> None:
    """The landing's summary: the lines that need a person (a failed delivery, a rejected or
    skipped file, a problem, where to find the details) as warnings, the rest as details."""
    for attention, line in report.summary_lines():
        LOG.log(logging.WARNING if attention else logging.DEBUG, line)


def log_gates(gates) -> None:
    """A gate run's summary: its head and warnings as details, the blocking failures as
    warnings."""
    for blocking, line in gates.summary_lines():
        LOG.log(logging.WARNING if blocking else logging.DEBUG, line)


def _run_locked(
    landing, warehouse, work_db, period, periods, force, allow_empty, command
) -> RunResult:
    result = RunResult(warehouse=warehouse, work_db=work_db)
    state = {"step": "checking the landing folder"}

    def timed(name, fn, *args, done, total: int = 0, summary=None, **kw):
        """One step: its first line, the step, its closing line (`done` of its result), then
        its summary (`summary` logs it)."""
        t0 = time.perf_counter()
        state["step"] = name
        LOG.info(
            f"── {name}" + (f" ({total} deliveries)" if total else ""),
            extra={"event": "start", "step": name, "total": total},
        )
        out = fn(*args, **kw)
        result.seconds[name] = time.perf_counter() - t0
        LOG.info(
            f"✓ {name}: {done(out)} ({result.seconds[name]:.1f}s)",
            extra={"event": "done", "step": name},
        )
        if summary is not None:
            summary(out)
        return out

    def gates(name, fn, *args):
        return timed(name, fn, *args, done=lambda g: g.headline(), summary=log_gates)

    try:
        check_periods(landing, work_db, warehouse, period, periods, command)
        result.landing = timed(
            "land",
            land_step,
            landing,
            work_db,
            periods,
            force=force,
            total=len(discover(landing, periods)[0]),
            done=_landing_line,
            summary=log_landing,
        )
        result.raw_gates = gates("raw quality gates", raw_gate_step, work_db, periods)
        # a run for one period is a quarterly refresh: only the new deliveries are recomputed
        result.dbt = timed(
            "dbt build", dbt_step, work_db, incremental=period is not None, done=_dbt_line
        )
        result.mart_gates = gates("mart quality gates", mart_gate_step, work_db)
        result.published = timed(
            "publish",
            publish_step,
            work_db,
            warehouse,
            [result.raw_gates, result.mart_gates],
            allow_empty=allow_empty,
            done=_published_line,
        )
        result.outputs = timed(
            "parquet, report and docs",
            outputs_step,
            warehouse,
            work_db,
            done=lambda o: f"{len(o)} written",
        )
    except KeyboardInterrupt:
        raise RunInterrupted(_interrupted(state["step"], result, command)) from None
    except Exception as exc:
        if caused_by_interrupt(exc):  # DuckDB: RuntimeError("Query interrupted") from Ctrl-C
            raise RunInterrupted(_interrupted(state["step"], result, command)) from None
        if isinstance(exc, (OSError, duckdb.Error, shutil.Error, dbt.DbtError)) and not isinstance(
            exc, PipelineError
        ):
            message = storage_failure(exc, warehouse, work_db, state["step"])
            if message is not None:
                raise PipelineError(message) from None
        if isinstance(exc, dbt.DbtError):  # dbt's own report, without a Python traceback
            raise PipelineError(
                f"not published: {exc}\n{previous_warehouse_note(warehouse)} Fix what dbt "
                "names (or free space if it ran out) and run again."
            ) from None
        raise
    return result


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether `exc` stands for a Ctrl-C: DuckDB turns the KeyboardInterrupt raised while a
    query runs into its own error (RuntimeError "Query interrupted", InterruptException)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (KeyboardInterrupt, duckdb.InterruptException)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _interrupted(step: str, result: RunResult, command: str) -> str:
    """The one line a Ctrl-C leaves: what stopped, the published warehouse's state, what next."""
    if result.published is not None:
        return (
            f"interrupted (Ctrl-C) while writing the {step}: the warehouse {result.warehouse} "
            f"WAS published by this run; the report, Parquet and docs beside it may be missing "
            f"or old — write them with `ygt report --warehouse {result.warehouse}` and `ygt "
            f"export`, or run `{command}` again."
        )
    return (
        f"interrupted (Ctrl-C) during {step}: nothing was published. "
        f"{previous_warehouse_note(result.warehouse)} Run the same command again to go on "
        f"(deliveries landed completely are kept and skipped as unchanged)."
    )


# Errors of the disk under the working database or the warehouse: no space, read-only.
READ_ONLY = ("read-only file system", "errno 30")


def storage_failure(exc: BaseException, warehouse: Path, work_db: Path, step: str) -> str | None:
    """One message for a working database or warehouse folder that cannot be written (disk
    full, read-only file system, no permission), naming the folder and what to do; None when
    `exc` is not such an error."""
    text = str(exc) + ("\n" + exc.output if isinstance(exc, dbt.DbtError) else "")
    low = text.lower()
    errno_ = getattr(exc, "errno", None)
    filename = getattr(exc, "filename", None)
    folder = Path(filename).parent if filename else Path(work_db).parent
    # the reason in a few words: "[Errno 28] No space left on device", not a list of files
    m = re.search(r"\[Errno \d+\] [^:'\"]+", text)
    first = (
        m.group(0).strip() if m else (text.strip().splitlines() or [type(exc).__name__])[0][:200]
    )
    if errno_ in (28, 27, 122) or any(k in low for k in NO_SPACE):
        what = (
            f"the disk holding {folder} is full (while: {step})",
            f"free space there (the working database {Path(work_db).name} and the new warehouse "
            "file are written in that folder), or set YGT_WORK_DB to a disk with room, and run "
            "the same command again: deliveries landed completely are kept",
        )
    elif errno_ == 30 or any(k in low for k in READ_ONLY):
        what = (
            f"the folder {folder} is on a read-only file system",
            "remount it read-write, or choose a --warehouse on a writable disk (the working "
            "database lives beside it in .ygt-work/, or where YGT_WORK_DB says), and run again",
        )
    elif errno_ in (1, 13) or any(
        k in low for k in ("permission denied", "operation not permitted")
    ):
        what = (
            f"the folder {folder} is not writable for this user",
            "make it writable, or choose another --warehouse, and run again",
        )
    else:
        return None
    return (
        f"stopped: {what[0]} ({first}). {previous_warehouse_note(warehouse)} What to do: {what[1]}."
    )
