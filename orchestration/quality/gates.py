"""Run the catalogue's checks: Great Expectations validates the DuckDB tables itself.

Each check's rule maps to GE's own expectations (expectations.py); GE runs them inside DuckDB
through its SQL data source (gx_duckdb.py holds what that needs), a batch per source x delivery
period, and its results (unexpected counts, the first failing values or rows) become the rows
of raw.dq_results. The few rules no expectation fits are SQL (rules.py), judged the way GE judges
`mostly`. The GE project template lives in gx/ (config committed); each working database gets
its own copy beside it, where GE keeps suites, the latest result per batch and its Data Docs
(made readable offline, data_docs.py); people read `<stem>_quality.html`, written by
`orchestration.report.write_quality_page` from `marts.data_quality`.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration import settings
from orchestration.duck import lit
from orchestration.quality import data_docs, expectations, gx_duckdb
from orchestration.quality.catalog import Check, load_catalog
from orchestration.quality.rules import MAX_EXAMPLES, RULES
from orchestration.settings import GX_DIR

settings.quiet_telemetry()

RESULT_COLUMNS = (
    ("check_id", "VARCHAR"), ("stage", "VARCHAR"), ("source", "VARCHAR"), ("period", "VARCHAR"),
    ("category", "VARCHAR"), ("severity", "VARCHAR"), ("threshold", "DOUBLE"),
    ("rows_checked", "BIGINT"), ("rows_failed", "BIGINT"), ("status", "VARCHAR"),
    ("message", "VARCHAR"), ("run_at", "TIMESTAMP"), ("finding", "VARCHAR"),
)  # fmt: skip
COLUMN_NAMES = tuple(c for c, _ in RESULT_COLUMNS)


def finding_text(rows_failed: int, examples: list[str] | None, examples_total: int | None) -> str:
    """What was found, in words: the first failing values or rows and how many more."""
    if not rows_failed:
        return ""
    shown = [str(x) for x in (examples or []) if x is not None]
    if not shown:
        return ""
    more = (examples_total or len(shown)) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def gx_root_for(con: duckdb.DuckDBPyConnection) -> Path:
    """The GE project used for this database: a copy of the repo's gx/ template beside it.

    GE rewrites its config and writes suites, results and Data Docs on every run; doing that
    beside the working database keeps the repo clean and gives each warehouse its own docs.
    """
    path = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()[0]
    root = (
        Path(path).resolve().parent if path else Path(tempfile.mkdtemp(prefix="ygt-gx-"))
    ) / "gx_project"
    if not (root / "gx" / "great_expectations.yml").exists():
        shutil.copytree(GX_DIR, root / "gx", dirs_exist_ok=True)
    return root


def data_docs_dir(gx_root: Path) -> Path:
    return gx_root / "gx" / "uncommitted" / "data_docs" / "local_site"


@dataclass
class GateResult:
    stage: str
    rows: list[dict] = field(default_factory=list)  # this run's results
    outstanding: list[dict] = field(default_factory=list)  # blocking failures in the database

    @property
    def blocking_failures(self) -> list[dict]:
        return self.outstanding

    @property
    def warnings(self) -> list[dict]:
        failed = [
            r
            for r in self.rows
            if r["severity"] == "warning" and r["status"] in ("failed", "error")
        ]
        return sorted(failed, key=lambda r: (r["check_id"], r["source"], r["period"] or ""))

    @property
    def passed(self) -> bool:
        return not self.outstanding

    def headline(self) -> str:
        """Counts as the quality page gives them: passed, not applicable, then failures (and
        checks that could not run) split into blocking ones and warnings."""
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        problems = [r for r in self.rows if r["status"] in ("failed", "error")]
        blocking = sum(r["severity"] == "blocking" for r in problems)
        parts = [f"{counts.get('passed', 0)} passed"]
        if counts.get("not_applicable"):
            parts.append(f"{counts['not_applicable']} not applicable")
        parts.append(f"{blocking} blocking failure{'s' if blocking != 1 else ''}")
        parts.append(
            f"{len(problems) - blocking} warning{'s' if len(problems) - blocking != 1 else ''}"
        )
        if counts.get("error"):
            parts.append(f"(of which {counts['error']} could not run)")
        if len(self.outstanding) > blocking:  # failures of earlier runs, not re-checked now
            parts.append(f"{len(self.outstanding)} blocking failures outstanding in raw.dq_results")
        return f"{len(self.rows)} results — " + ", ".join(parts)

    def summary_lines(self) -> list[tuple[bool, str]]:
        """The summary's lines, each with whether it is about a blocking failure."""
        lines = [(False, f"{self.stage} quality gates: {self.headline()}")]
        for label, rows in (("BLOCKING", self.outstanding), ("warning", self.warnings)):
            blocking = label == "BLOCKING"
            for r in rows[:20]:
                found = f": {r['finding']}" if r.get("finding") else ""
                lines.append(
                    (
                        blocking,
                        f"  {label:<8} {r['check_id']} {r['source']} {r['period']}: "
                        f"{r['rows_failed']} of {r['rows_checked']} rows failed ({r['message']}){found}",
                    )
                )
            if len(rows) > 20:
                lines.append((blocking, f"  … and {len(rows) - 20} more {label.lower()} results"))
        return lines

    def summary(self) -> str:
        return "\n".join(line for _, line in self.summary_lines())


def ensure_results_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    cols = ", ".join(f"{n} {t}" for n, t in RESULT_COLUMNS)
    con.execute(f"create table if not exists raw.dq_results ({cols})")
    # working databases made before a column was added get it (empty for their old rows)
    for name, dtype in RESULT_COLUMNS:
        con.execute(f"alter table raw.dq_results add column if not exists {name} {dtype}")


def _table_exists(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def measure(con, checks: list[Check], periods: set[str] | None) -> list[dict]:
    """The SQL-only checks (expectations.SQL_ONLY): one row per (check, period), only `periods`
    when given, judged as GE judges `mostly` (the share of rows that pass >= 1 - threshold)."""
    out = []
    for check in checks:
        if not _table_exists(con, _schema(check), check.source):
            continue
        sql = RULES[check.rule](check)
        if periods is not None:  # DuckDB pushes this through the GROUP BY into the table scan
            listed = ", ".join(lit(p) for p in sorted(periods)) or "null"
            sql = f"select * from ({sql}) where period in ({listed})"
        try:
            counted = con.execute(sql).fetchall()
        except duckdb.Error as exc:
            out.append(_error_row(check, None, exc))
            continue
        for period, checked, failed, examples, examples_total in counted:
            ok = not checked or 1 - failed / checked >= expectations.mostly(check)
            out.append(
                _row(
                    check,
                    period,
                    checked,
                    failed,
                    ok,
                    finding_text(failed, examples, examples_total),
                )
            )
    return out


def _schema(check: Check) -> str:
    return "raw" if check.stage == "raw" else "marts"


def _row(check: Check, period, checked, failed, ok: bool, finding: str, message=None) -> dict:
    return dict(
        check_id=check.check_id,
        stage=check.stage,
        source=check.source,
        period=period,
        category=check.category,
        severity=check.severity,
        threshold=check.threshold,
        rows_checked=int(checked or 0),
        rows_failed=int(failed or 0),
        status="not_applicable" if not checked else ("passed" if ok else "failed"),
        message=message or check.description,
        finding=finding,
    )


def _error_row(check: Check, period, exc) -> dict:
    message = f"check could not run: {exc}".splitlines()[0]
    return _row(check, period, 0, 0, False, "", message) | {"status": "error"}


def _label(found: dict, plan: expectations.Plan, column: str | None) -> str:
    """One failing row, named without its content: `file:line` (raw) or indicator and area."""
    value = found.get(column) if column else None
    if plan.index_columns == expectations.RAW_ROW:
        if found.get("_file") is None:
            return ""
        label = f"{found['_file']}:{found['_line']}"
        return label + (f" ({value})" if plan.detail and value is not None else "")
    label = " ".join(str(found.get(c)) for c in plan.index_columns)
    if plan.detail and value is not None:
        label += f" = {round(float(value), 4):g}"
    return label


def _finding(plan: expectations.Plan, results: list) -> str:
    """What GE found, in the words finding_text uses: the distinct failing values of a code
    column, or the first failing rows (GE's partial lists: the first 20 failing rows each)."""
    failed = sum(r.result.get("unexpected_count") or 0 for r in results)
    if plan.finding == "values":
        values = sorted(
            {
                "/".join(str(x) for x in v.values()) if isinstance(v, dict) else str(v)
                for r in results
                for v in r.result.get("partial_unexpected_list") or []
                if v is not None
            }
        )
        shown = values[:MAX_EXAMPLES]
        truncated = any(
            (r.result.get("unexpected_count") or 0)
            > len(r.result.get("partial_unexpected_list") or [])
            for r in results
        )
        if not shown:
            return ""
        more = len(values) - len(shown)
        if more > 0:
            return ", ".join(shown) + f" and {more}{'+' if truncated else ''} more"
        return ", ".join(shown) + (" …" if truncated else "")
    labels = sorted(
        (
            (f.get(plan.index_columns[0]) or "", f.get(plan.index_columns[1]) or 0),
            _label(f, plan, r.expectation_config.kwargs.get("column")),
        )
        for r in results
        for f in r.result.get("partial_unexpected_index_list") or []
    )
    shown = [label for _, label in labels if label][:MAX_EXAMPLES]
    return finding_text(failed, shown, failed)


def _periods_of(con, check: Check, periods: set[str] | None) -> list[str]:
    column = "_period" if check.stage == "raw" else "period"
    found = [
        p
        for (p,) in con.execute(
            f"select distinct {column} from {_schema(check)}.{check.source} "
            f"where {column} is not null order by 1"
        ).fetchall()
    ]
    return [p for p in found if periods is None or p in periods]


def validate(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    checks: list[Check],
    periods: set[str] | None,
    gx_root: Path,
) -> list[dict]:
    """GE validates the tables in DuckDB: a suite per source (its checks' expectations), a batch
    per source x delivery period (a query asset filtered on the period), results stored in the GE
    project and built into its Data Docs. One result row per (check, period)."""
    gx_duckdb.install()
    # no GE connection outlives the gates; each expectation serialised once (gx_duckdb patch 5)
    with gx_duckdb.connections_closed(), gx_duckdb.serialised_once():
        return _validate(con, stage, checks, periods, gx_root)


def _validate(con, stage, checks, periods, gx_root) -> list[dict]:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    path = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()[0]
    if not path:
        raise ValueError("the quality gates need a database file: GE opens its own connection")
    ctx = gx.get_context(mode="file", project_root_dir=str(gx_root))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    _forget_frame_gates(ctx, stage)
    source = ctx.data_sources.add_or_update_sql(
        "warehouse",
        connection_string=gx_duckdb.connection_string(path),
        kwargs=gx_duckdb.engine_kwargs(),
    )
    facility_codes = []
    if any(c.rule == "known_facility" for c in checks):
        facility_codes = [
            c for (c,) in con.execute(
                "select distinct org_code from raw.facilities where org_code is not null order by 1"
            ).fetchall()
        ]  # fmt: skip
    out: list[dict] = []
    by_source: dict[str, list[Check]] = {}
    for check in checks:
        by_source.setdefault(check.source, []).append(check)
    try:
        for table, table_checks in by_source.items():
            plans = {c.check_id: expectations.plan(c) for c in table_checks}
            suite = ctx.suites.add_or_update(
                gx.ExpectationSuite(
                    name=f"{stage}_{table}",
                    expectations=[e for p in plans.values() for e in p.expectations],
                )
            )
            vd = _validation_definition(ctx, source, suite, stage, table)
            index_columns = list(next(iter(plans.values())).index_columns)
            for period in _periods_of(con, table_checks[0], periods):
                parameters = expectations.run_parameters(period, facility_codes)
                out += _validate_batch(
                    ctx, vd, stage, period, parameters, table_checks, plans, index_columns
                )
        data_docs.reset_site(data_docs_dir(gx_root))
        ctx.build_data_docs()
    finally:
        source.get_engine().dispose()
    data_docs.make_offline(data_docs_dir(gx_root))
    return out


def _forget_frame_gates(ctx, stage: str) -> None:
    """Remove what gates before GE validated the tables left in a working GE project: the
    checkpoint, validation definition and suite `<stage>_gates` over a frame of counts (files:
    GE cannot load them once their pandas asset is gone)."""
    root = Path(ctx.root_directory)
    for folder in ("checkpoints", "validation_definitions", "expectations"):
        (root / folder / f"{stage}_gates.json").unlink(missing_ok=True)


def _period_column(stage: str) -> str:
    return "_period" if stage == "raw" else "period"


def _validation_definition(ctx, source, suite, stage: str, table: str):
    """A query asset over the whole table with a batch definition per delivery period (GE's
    column-value partitioner on `_period`, or `period` in the marts); made once per GE project."""
    import great_expectations as gx
    from great_expectations.core.partitioners import PartitionerColumnValue

    name = f"{stage}_{table}"
    schema = "raw" if stage == "raw" else "marts"
    asset = next((a for a in source.assets if a.name == name), None) or source.add_query_asset(
        name, query=f"select * from {schema}.{table}"
    )
    batch = next((b for b in asset.batch_definitions if b.name == "by_period"), None)
    # GE checks only date partitioners (by reading a value); a period column is text
    batch = batch or asset.add_batch_definition(
        "by_period",
        partitioner=PartitionerColumnValue(column_name=_period_column(stage)),
        validate_partitioner=False,
    )
    return ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )


def _validate_batch(ctx, vd, stage, period, parameters, checks, plans, index_columns):
    column = _period_column(stage)
    data_docs.forget_results(ctx.root_directory, vd.suite.name, f"{vd.name}-{column}_{period}")
    try:
        run = vd.run(
            batch_parameters={column: period},
            expectation_parameters=parameters,
            result_format={
                "result_format": "SUMMARY",
                "unexpected_index_column_names": index_columns,
            },
        )
    except Exception as exc:
        return [_error_row(c, period, exc) for c in checks]
    by_check: dict[str, list] = {}
    for r in run.results:
        by_check.setdefault(r.expectation_config.meta["check_id"], []).append(r)
    out = []
    for check in checks:
        results, plan = by_check.get(check.check_id, []), plans[check.check_id]
        raised = [r for r in results if r.exception_info.get("raised_exception")]
        if raised:
            out.append(_error_row(check, period, raised[0].exception_info["exception_message"]))
            continue
        checked = [
            r.result.get("observed_value", 0)
            if "observed_value" in r.result
            else (r.result.get("element_count") or 0) - (r.result.get("missing_count") or 0)
            for r in results
        ]
        failed = sum(r.result.get("unexpected_count") or 0 for r in results)
        ok = all(r.success for r in results)
        out.append(
            _row(check, period, sum(checked) if plan.partitioned else max(checked, default=0),
                 failed, ok, _finding(plan, results) if failed else "")
        )  # fmt: skip
    return out


def run_gates(
    con: duckdb.DuckDBPyConnection, stage: str, periods: set[str] | None = None
) -> GateResult:
    checks = load_catalog(stage)
    ensure_results_table(con)
    present = [c for c in checks if _table_exists(con, _schema(c), c.source)]
    in_sql = [c for c in present if c.rule in expectations.SQL_ONLY]
    in_gx = [c for c in present if c.rule not in expectations.SQL_ONLY]
    rows = measure(con, in_sql, periods)
    if in_gx:
        rows += validate(con, stage, in_gx, periods, gx_root_for(con))
    run_at = dt.datetime.now().replace(microsecond=0)
    order = {c.check_id: i for i, c in enumerate(checks)}
    rows = sorted(
        (r | {"run_at": run_at} for r in rows),
        key=lambda r: (order[r["check_id"]], r["period"] or ""),
    )
    _store(con, stage, periods, rows)
    outstanding = [
        dict(zip(COLUMN_NAMES, r))
        for r in con.execute(
            f"select {', '.join(COLUMN_NAMES)} from raw.dq_results where stage = ? and severity = 'blocking' "
            "and status in ('failed', 'error') order by check_id, period",
            [stage],
        ).fetchall()
    ]
    return GateResult(stage=stage, rows=rows, outstanding=outstanding)


def _store(con, stage: str, periods: set[str] | None, rows: list[dict]) -> None:
    """Replace the stored results this run re-checked; results of other periods stay."""
    con.execute("begin transaction")
    if periods is None or stage == "mart":
        con.execute("delete from raw.dq_results where stage = ?", [stage])
    else:
        con.execute(
            "delete from raw.dq_results where stage = ? and (period in (select unnest(?)) or period is null)",
            [stage, sorted(periods)],
        )
    if rows:
        con.executemany(
            f"insert into raw.dq_results ({', '.join(COLUMN_NAMES)}) "
            f"values ({', '.join('?' * len(COLUMN_NAMES))})",
            [[r[c] for c in COLUMN_NAMES] for r in rows],
        )
    con.execute("commit")


def run_raw_gates(con: duckdb.DuckDBPyConnection, periods: set[str] | None = None) -> GateResult:
    return run_gates(con, "raw", periods)


def run_mart_gates(con: duckdb.DuckDBPyConnection) -> GateResult:
    return run_gates(con, "mart")
