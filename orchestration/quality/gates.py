"""Run the catalogue's checks: DuckDB computes per-period counts, Great Expectations judges them.

For each stage one DataFrame holds a row per (check, source, period) with rows_checked,
rows_failed and failed_share. One GE suite per stage has one expectation per catalogue check
(`failed_share` ≤ threshold, restricted to that check's rows), so GE's results name every check by
id and description. The GE project template lives in gx/ (config committed); each working
database gets its own copy beside it, where GE writes suites, results and its Data Docs (left
in the working folder: they need CDN assets; people read `<stem>_quality.html`, written by
`orchestration.report.write_quality_page` from `marts.data_quality`).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from orchestration import settings
from orchestration.duck import lit
from orchestration.quality.catalog import Check, load_catalog
from orchestration.quality.rules import RULES
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

    def summary(self) -> str:
        lines = [f"{self.stage} quality gates: {self.headline()}"]
        for label, rows in (("BLOCKING", self.outstanding), ("warning", self.warnings)):
            for r in rows[:20]:
                found = f": {r['finding']}" if r.get("finding") else ""
                lines.append(
                    f"  {label:<8} {r['check_id']} {r['source']} {r['period']}: "
                    f"{r['rows_failed']} of {r['rows_checked']} rows failed ({r['message']}){found}"
                )
            if len(rows) > 20:
                lines.append(f"  … and {len(rows) - 20} more {label.lower()} results")
        return "\n".join(lines)


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


def measure(con, checks: list[Check], periods: set[str] | None) -> pd.DataFrame:
    """Run every check's SQL; one row per (check, period), only `periods` when given."""
    out = []
    for check in checks:
        schema = "raw" if check.stage == "raw" else "marts"
        base = dict(
            check_id=check.check_id,
            source=check.source,
            category=check.category,
            severity=check.severity,
            threshold=check.threshold,
            description=check.description,
        )
        if not _table_exists(con, schema, check.source):
            continue
        sql = RULES[check.rule](check)
        if periods is not None:  # DuckDB pushes this through the GROUP BY into the table scan
            listed = ", ".join(lit(p) for p in sorted(periods)) or "null"
            sql = f"select * from ({sql}) where period in ({listed})"
        try:
            counted = con.execute(sql).fetchall()
            message = check.description
            error = False
        except duckdb.Error as exc:
            counted = [(None, 0, 0, None, None)]
            message, error = f"check could not run: {exc}".splitlines()[0], True
        for period, checked, failed, examples, examples_total in counted:
            out.append(
                base
                | dict(
                    period=period,
                    rows_checked=checked,
                    rows_failed=failed,
                    failed_share=(failed / checked) if checked else 0.0,
                    error=error,
                    message=message,
                    finding=finding_text(failed, examples, examples_total),
                )
            )
    return pd.DataFrame(out)


def judge_with_great_expectations(
    stage: str, checks: list[Check], frame: pd.DataFrame, gx_root: Path
) -> list[bool]:
    """Validate the measured frame with a GE suite generated from the catalogue.

    Returns, per frame row, whether it passed its check's expectation.
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.row_conditions import Column

    ctx = gx.get_context(mode="file", project_root_dir=str(gx_root))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = ctx.data_sources.add_or_update_pandas("ygt_quality")
    asset_name = f"{stage}_check_counts"
    asset = next(
        (a for a in source.assets if a.name == asset_name), None
    ) or source.add_dataframe_asset(asset_name)
    batch = next(
        (b for b in asset.batch_definitions if b.name == "all"), None
    ) or asset.add_batch_definition_whole_dataframe("all")

    # the expectations are given to the suite at once and stored with it once: add_expectation
    # on a suite already in the store rewrites the stored suite each time (~2 s for 35 checks)
    suite = gx.ExpectationSuite(
        name=f"{stage}_gates",
        expectations=[
            gxe.ExpectColumnValuesToBeBetween(
                column="failed_share",
                min_value=0,
                max_value=check.threshold,
                row_condition=Column("check_id") == check.check_id,
                description=f"{check.check_id} [{check.severity}, {check.category}] {check.source}: "
                f"{check.description} (tolerated failure share {check.threshold:g})",
                meta={"check_id": check.check_id},
            )
            for check in checks
        ],
    )
    suite = ctx.suites.add_or_update(suite)
    vd = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{stage}_gates", data=batch, suite=suite)
    )
    checkpoint = ctx.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{stage}_gates",
            validation_definitions=[vd],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
            result_format={"result_format": "COMPLETE"},
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame.reset_index(drop=True)})
    passed = [True] * len(frame)
    for validation in result.run_results.values():
        for r in validation.results:
            if not r.success:
                for i in r.result.get("unexpected_index_list") or []:
                    passed[int(i)] = False
                if r.exception_info and r.exception_info.get("raised_exception"):
                    cid = r.expectation_config.meta["check_id"]
                    for i, row in enumerate(frame.itertuples()):
                        if row.check_id == cid:
                            passed[i] = False
    return passed


def run_gates(
    con: duckdb.DuckDBPyConnection, stage: str, periods: set[str] | None = None
) -> GateResult:
    checks = load_catalog(stage)
    ensure_results_table(con)
    frame = measure(con, checks, periods)
    ran = [c for c in checks if c.check_id in set(frame.get("check_id", []))]
    judged = (
        judge_with_great_expectations(stage, ran, frame[~frame.error], gx_root_for(con))
        if len(frame)
        else []
    )
    run_at = dt.datetime.now().replace(microsecond=0)
    rows, k = [], 0
    for row in frame.itertuples(index=False):
        if row.error:
            status = "error"
        else:
            ok = judged[k]
            k += 1
            status = "not_applicable" if not row.rows_checked else ("passed" if ok else "failed")
        rows.append(
            dict(
                check_id=row.check_id,
                stage=stage,
                source=row.source,
                period=row.period,
                category=row.category,
                severity=row.severity,
                threshold=row.threshold,
                rows_checked=int(row.rows_checked or 0),
                rows_failed=int(row.rows_failed or 0),
                status=status,
                message=row.message,
                run_at=run_at,
                finding=row.finding,
            )
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
