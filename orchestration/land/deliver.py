"""Landing deliveries: each one de-duplicated, parsed and replaced atomically (`land_delivery`),
and the entry point `land` that walks the landing folder."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from orchestration import contract, duck, settings
from orchestration.duck import insert_rows, q
from orchestration.land.discovery import FORMATS, Delivery, DigestCache, discover
from orchestration.land.parse import excel_text_sql, parse_sql, reason_sql, trimmed_sql
from orchestration.land.profile import Profiles
from orchestration.land.read import clean_duckdb_error
from orchestration.land.report import (
    DeliveryResult,
    FileRejected,
    FileResult,
    LandingError,
    LandingReport,
)
from orchestration.land.schema import create_raw_schema
from orchestration.land.stage import (
    drop_batches,
    same_header_batches,
    stage_batch,
    stage_file,
)
from orchestration.progress import relay_to, stop_relay

Progress = Callable[[str], None]
LOG = logging.getLogger("ygt.land")
RID_BASE = 1 << 36  # lines per file below this; file index times this plus line = row id


def _in_transaction(con) -> bool:
    try:
        con.execute("BEGIN TRANSACTION")
    except duckdb.TransactionException:
        return True
    con.execute("ROLLBACK")
    return False


def _quarantine_conflicts(con, src: contract.Source) -> None:
    """Rows of parsed_rows that share their natural key with an earlier good row of the delivery but
    differ from it (exact duplicates are already grouped away): the first in file and line order
    loads, each later one is quarantined with a reason naming the line it conflicts with. One
    hash aggregate finds the keys; only the rows of conflicting keys are touched."""
    idx = {(c.hash_as or c.name): i for i, c in enumerate(src.columns)}
    if not src.natural_key:
        return
    keys = [
        f"p_{idx[k]}" if src.columns[idx[k]].kind == "pii_hash" else f"v_{idx[k]}"
        for k in src.natural_key
    ]
    rid = f"_fidx::BIGINT * {RID_BASE} + _line"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE conflicting_keys AS SELECT {', '.join(keys)}, min({rid}) AS _first FROM parsed_rows "
        f"WHERE _reason IS NULL AND {' AND '.join(f'{k} IS NOT NULL' for k in keys)} GROUP BY ALL "
        f"HAVING count(*) > 1"
    )
    label = " + ".join(src.natural_key)
    con.execute(
        f"UPDATE parsed_rows SET _reason = 'conflicting duplicate: same {label} as line ' || (c._first % {RID_BASE}) "
        f"|| ' of ' || c.file || ', which is loaded; this row differs from it and is not' "
        f"FROM (SELECT conflicting_keys.*, delivery_files.file FROM conflicting_keys JOIN delivery_files ON delivery_files._fidx = conflicting_keys._first // {RID_BASE}) AS c "
        f"WHERE {' AND '.join(f'parsed_rows.{k} = c.{k}' for k in keys)} AND parsed_rows._reason IS NULL "
        f"AND parsed_rows._fidx::BIGINT * {RID_BASE} + parsed_rows._line <> c._first"
    )
    con.execute("DROP TABLE conflicting_keys")


HASH_DEDUP_ROWS = 4_000_000  # deliveries above this many rows find duplicates by row hash


def _distinct_rows(con, stacked: list[str], vcols: list[str], rows_read: int) -> str:
    """A relation of the delivery's staged rows without exact duplicates: a row repeating an
    earlier one (file and line order) in every column is left out. Columns `_rid` (file index
    and line packed in one BIGINT: the smallest is the first occurrence) and c_<i>.

    Up to HASH_DEDUP_ROWS rows, one GROUP BY over every column. Above, that hash table holds the
    delivery's text and outgrows DuckDB's memory limit: a 64-bit hash of each row is grouped
    instead (16 bytes a row), and only rows sharing a hash are compared column by column, so
    a hash collision never merges two different rows (faster for large deliveries, slower
    for small ones, hence the threshold: bench/README.md, "Measured choices")."""
    # a row flagged at staging (totals, footer, ...) is quarantined on its own: never a duplicate
    rid = f"_fidx::BIGINT * {RID_BASE} + _line"
    vcols = [*vcols, "_own"]
    rows = (
        f"(SELECT {rid} AS _rid, {', '.join(vcols[:-1])}, CASE WHEN _flag IS NOT NULL THEN {rid} END AS _own "
        f"FROM ({' UNION ALL '.join(stacked)}))"
    )
    if rows_read <= HASH_DEDUP_ROWS:
        return f"(SELECT {', '.join(vcols)}, min(_rid) AS _rid FROM {rows} GROUP BY ALL)"
    row_hash = f"hash({', '.join(vcols)})"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE duplicate_rows AS WITH shared AS (SELECT {row_hash} AS _h "
        f"FROM {rows} GROUP BY ALL HAVING count(*) > 1), candidates AS (SELECT * FROM {rows} "
        f"WHERE {row_hash} IN (SELECT _h FROM shared)) SELECT _rid FROM (SELECT _rid, min(_rid) "
        f"OVER (PARTITION BY {', '.join(vcols)}) AS _first FROM candidates) WHERE _rid <> _first"
    )
    return f"(SELECT * FROM {rows} WHERE _rid NOT IN (SELECT _rid FROM duplicate_rows))"


TEMP_TABLES = (
    "staged_rows", "parsed_rows", "malformed_rows", "delivery_files", "file_rows", "file_rejects",
    "file_reject_scans", "row_lines", "skipped_lines", "conflicting_keys", "duplicate_rows",
    "file_number_cells",
)  # fmt: skip


def land_delivery(
    con,
    d: Delivery,
    landing: Path,
    key: bytes,
    fp: str,
    tmp: Path,
    loaded_at: datetime,
    profiles: Profiles,
) -> DeliveryResult:
    """Land one delivery: stage its files as text, de-duplicate and parse them, replace the
    delivery's rows, quarantine and audit in one transaction."""
    res = DeliveryResult(d.source.name, d.period, "landed", fp)
    t0 = time.perf_counter()
    batch_tables: list[str] = []
    try:
        stacked = _stage_delivery(con, d, landing, tmp, profiles, res, batch_tables)
        sql = _parse_delivery(con, d.source, key, loaded_at, stacked, res.rows_read)
        drop_batches(con, batch_tables)
        _replace_delivery(con, d, landing, sql, res, loaded_at)
    except BaseException:
        if _in_transaction(con):
            con.execute("ROLLBACK")
        raise
    finally:
        con.execute("RESET preserve_insertion_order")
        for t in TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {t}")
        drop_batches(con, batch_tables)
    res.seconds = time.perf_counter() - t0
    return res


def _vcols(src: contract.Source) -> list[str]:
    # c_<i>: the text of contract column i; _flag: why the row is not a record (stage.row_flag_sql)
    return [f"c_{i}" for i in range(len(src.columns))] + ["_flag"]


def _stage_delivery(
    con,
    d: Delivery,
    landing: Path,
    tmp: Path,
    profiles: Profiles,
    res: DeliveryResult,
    batch_tables: list[str],
) -> list[str]:
    """Stage every file of the delivery as text (temp table staged_rows, the batches' views,
    malformed_rows, delivery_files); a FileResult per file in `res`. Returns the SELECTs that
    together give every staged row."""
    src = d.source
    # Staging runs in auto-commit mode: row ids of a table filled inside an open transaction are
    # transaction-local (huge), and the file order is read from committed row ids.
    stacked = ["SELECT * FROM staged_rows"]  # every staged row: per-file rows + the batches' views
    con.execute(
        "DROP TABLE IF EXISTS staged_rows; DROP TABLE IF EXISTS malformed_rows; DROP TABLE IF EXISTS delivery_files"
    )
    con.execute(
        f"CREATE TEMP TABLE staged_rows (_fidx INTEGER, _line BIGINT, {', '.join(c + ' VARCHAR' for c in _vcols(src))})"
    )
    con.execute("CREATE TEMP TABLE malformed_rows (_fidx INTEGER, _line BIGINT, reason VARCHAR)")
    con.execute("CREATE TEMP TABLE delivery_files (_fidx INTEGER, file VARCHAR)")
    staged: list[tuple[int, str]] = []
    # rows, notes, encoding, profile, seconds
    batched: dict[int, tuple[int, str, str, str, float]] = {}
    for n, (delim, members) in enumerate(same_header_batches(list(enumerate(d.files)))):
        tb = time.perf_counter()
        batch_tables.append(f"batch_{n}")
        done = stage_batch(con, src, delim, members, tmp, batch_tables[-1], profiles, d.period)
        if done:
            stacked.append(f"SELECT * FROM {batch_tables[-1]}_rows")
        else:
            drop_batches(con, batch_tables[-1:])
        per_file = (time.perf_counter() - tb) / max(len(done), 1)
        batched |= {fidx: (*staged_file, per_file) for fidx, staged_file in done.items()}
        LOG.debug(
            f"  {len(done)} of {len(members)} file(s) with the same header read together: "
            f"{sum(r[0] for r in done.values()):,} rows in {time.perf_counter() - tb:.1f}s"
        )
    for fidx, path in enumerate(d.files):
        rel = path.relative_to(landing).as_posix()
        fr = FileResult(src.name, d.period, rel, FORMATS[path.suffix.lower()])
        res.files.append(fr)
        if fidx in batched:
            fr.rows_read, fr.message, fr.encoding, fr.profile, fr.seconds = batched[fidx]
            staged.append((fidx, rel))
            continue
        tf = time.perf_counter()
        try:
            stage_file(con, src, path, fidx, tmp, fr, profiles)
            staged.append((fidx, rel))
        except FileRejected as exc:
            fr.status, fr.rows_read, fr.message = "rejected", exc.rows_read, f"{rel}: {exc}"
        fr.seconds = time.perf_counter() - tf
        LOG.debug(  # a rejected file: the summary lists it as a warning
            f"  {rel}: "
            + (
                f"REJECTED -- {fr.message.removeprefix(rel + ': ')}"
                if fr.status == "rejected"
                else f"read {fr.rows_read:,} rows"
                + (f" ({fr.encoding})" if fr.encoding else "")
                + f" in {fr.seconds:.1f}s"
            ),
            extra={"where": rel},
        )
    insert_rows(con, "delivery_files", staged)
    return stacked


def _parse_delivery(
    con,
    src: contract.Source,
    key: bytes,
    loaded_at: datetime,
    stacked: list[str],
    rows_read: int,
):
    """Temp table parsed_rows: the staged rows without exact duplicates, trimmed, parsed and
    judged (`_reason`), conflicting duplicates of a key quarantined. Returns the ParseSql."""
    sql = parse_sql(src, key, loaded_at)
    keep = [f"v_{i}" for i, c in enumerate(src.columns) if c.kind != "pii_drop"]
    kept = [i for i, c in enumerate(src.columns) if c.kind != "pii_drop"]
    trimmed = ", ".join(f"{trimmed_sql(f'c_{i}')} AS t_{i}" for i in kept)
    # Excel's ="04" unwrapped over the trimmed values in a layer of its own: nested in one
    # expression, the trimming was computed once per reference
    unwrapped = ", ".join(f"{excel_text_sql(f't_{i}')} AS v_{i}" for i in kept)
    reason = reason_sql([("_flag IS NOT NULL", "_flag"), *sql.reasons])
    # From here on no result depends on the order rows are written in (lines travel as
    # columns; the quarantine is written ORDER BY), so DuckDB need not keep it: faster when a
    # delivery outgrows the memory limit (bench/README.md, "Measured choices"). Staging
    # needs the order (rowid = file order): set back at the end.
    con.execute("SET preserve_insertion_order = false")
    distinct_rows = _distinct_rows(con, stacked, _vcols(src), rows_read)
    # One statement trims and parses every value of the distinct rows once. Identifiers are
    # hashed only where they are written (good rows -> raw.<source>, bad rows -> JSON
    # record in raw.quarantine).
    con.execute(
        f"CREATE TEMP TABLE parsed_rows AS SELECT *, {reason} AS _reason FROM (SELECT _rid // {RID_BASE} AS _fidx, "
        f"_rid % {RID_BASE} AS _line, _flag, {', '.join(keep + sql.parsed)} FROM (SELECT _rid, _flag, {unwrapped} "
        f"FROM (SELECT _rid, _flag, {trimmed} FROM {distinct_rows})))"
    )
    con.execute("DROP TABLE staged_rows")
    _quarantine_conflicts(con, src)
    return sql


def _replace_delivery(
    con, d: Delivery, landing: Path, sql, res: DeliveryResult, loaded_at: datetime
) -> None:
    """In one transaction: the delivery's old rows, quarantine and audit deleted, the parsed
    rows written (good -> raw.<source>, bad -> raw.quarantine), a load_audit row per file (the
    files not read too) and the delivery's fingerprint."""
    src = d.source
    con.execute("BEGIN TRANSACTION")
    for t in [src.name, "quarantine", "load_audit"]:
        col_s, col_p = ("_period", None) if t == src.name else ("period", "source")
        where = f"{col_s} = ?" + (f" AND {col_p} = ?" if col_p else "")
        con.execute(
            f"DELETE FROM raw.{q(t)} WHERE {where}", [d.period] + ([src.name] if col_p else [])
        )
    con.execute(
        f"INSERT INTO raw.{q(src.name)} SELECT {', '.join(sql.typed)}, ?, delivery_files.file, _line, ? "
        f"FROM parsed_rows JOIN delivery_files USING (_fidx) WHERE _reason IS NULL",
        [d.period, loaded_at],
    )
    con.execute(
        f"INSERT INTO raw.quarantine SELECT ?, ?, delivery_files.file, _line, _reason, json_object({', '.join(sql.record)}) "
        f"FROM parsed_rows JOIN delivery_files USING (_fidx) WHERE _reason IS NOT NULL ORDER BY _fidx, _line",
        [src.name, d.period],
    )
    con.execute(
        "INSERT INTO raw.quarantine SELECT ?, ?, delivery_files.file, _line, reason, NULL FROM malformed_rows "
        "JOIN delivery_files USING (_fidx) ORDER BY _fidx, _line",
        [src.name, d.period],
    )
    counts = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT _fidx, count(*) FILTER (WHERE _reason IS NULL), count(*) FILTER (WHERE _reason IS NOT NULL) "
            "FROM parsed_rows GROUP BY _fidx"
        ).fetchall()
    }
    bad = dict(con.execute("SELECT _fidx, count(*) FROM malformed_rows GROUP BY _fidx").fetchall())
    fidx_of = {f.relative_to(landing).as_posix(): i for i, f in enumerate(d.files)}
    for fr in res.files:
        if fr.status != "loaded":
            continue
        i = fidx_of[fr.file]
        fr.rows_loaded, fr.rows_quarantined = counts.get(i, (0, 0))
        fr.rows_quarantined += bad.get(i, 0)
        fr.rows_duplicate = fr.rows_read - fr.rows_loaded - fr.rows_quarantined
        extra = []
        if fr.rows_quarantined:
            extra.append(f"{fr.rows_quarantined} row(s) quarantined, see raw.quarantine")
        if fr.rows_duplicate:
            extra.append(f"{fr.rows_duplicate} exact duplicate row(s) counted once")
        fr.message = "; ".join(x for x in [fr.encoding or fr.format] + extra + [fr.message] if x)
    insert_rows(
        con,
        "raw.load_audit",
        [
            [
                f.source,
                f.period,
                f.file,
                f.rows_read,
                f.rows_loaded,
                f.rows_quarantined,
                f.rows_duplicate,
                loaded_at,
                f.status,
                f.message,
                f.profile,
            ]
            for f in res.files
        ]
        + [  # files of the folder not read (unknown extension, lock file, ...): listed too
            [src.name, d.period, name, 0, 0, 0, 0, loaded_at, "skipped", why, ""]
            for name, why in d.skipped
        ],
    )
    con.execute("DELETE FROM raw.deliveries WHERE source = ? AND period = ?", [src.name, d.period])
    con.execute(
        "INSERT INTO raw.deliveries VALUES (?, ?, ?, ?)",
        [src.name, d.period, res.fingerprint, loaded_at],
    )
    con.execute("COMMIT")


LANDING_CHECKPOINT_THRESHOLD = "64GB"  # no automatic checkpoint while a landing runs


def land(
    con_or_path: duckdb.DuckDBPyConnection | str | Path,
    landing: Path,
    periods: set[str] | None = None,
    sources: set[str] | None = None,
    progress: Progress = print,
    force: bool = False,
    tmp_dir: str | Path | None = None,
) -> LandingReport:
    """Land every delivery `<landing>/<source>/<period>/` (filtered by `periods` / `sources`)
    into schema raw. A delivery whose files are unchanged since it was landed is skipped unless
    `force`; a changed one replaces the old one atomically. Bad files and rows never stop the
    run: they are rejected / quarantined and reported. Raises LandingError (with `.report`) at
    the end if a delivery failed unexpectedly; that delivery keeps its previous contents."""
    t0 = time.perf_counter()
    landing = Path(landing).resolve()
    # a path opens (and closes) its own connection; anything else is a connection (or one
    # wrapped, as bench/land_profile.py times its statements)
    own = isinstance(con_or_path, str | os.PathLike)
    con = duck.connect(con_or_path) if own else con_or_path
    con.execute("SET enable_progress_bar = false")  # progress is logged, a line per file
    # One checkpoint at the end of the landing, not one at the commit of every delivery: each
    # automatic checkpoint rewrote what earlier ones had written (bench/README.md, "Measured
    # choices"). Each delivery is still its own transaction, kept in the WAL until then.
    con.execute(f"SET checkpoint_threshold = '{LANDING_CHECKPOINT_THRESHOLD}'")
    key, demo = settings.hash_key()
    report = LandingReport(landing, demo_key=demo)
    tmp = Path(tempfile.mkdtemp(prefix="ygt-land-", dir=tmp_dir))
    digests: DigestCache | None = None
    relay = relay_to(progress, LOG.name)  # the messages are logged; a caller's callback too
    try:
        try:  # GB18030 is transcoded in Python (see orchestration/land/__init__.py), so only the excel extension is needed
            con.execute("LOAD excel")
        except duckdb.Error as exc:  # only .xlsx needs it; such files are then rejected
            report.problems.append(
                f"DuckDB excel extension not loadable ({exc}); .xlsx files cannot be read"
            )
        report.problems += create_raw_schema(con)
        try:
            profiles = Profiles.for_landing(landing)
        except (ValueError, OSError) as exc:
            raise LandingError(
                f"layout profiles: {exc}. Correct the file (docs/landing-profiles.md) and land again"
            ) from None
        deliveries, problems = discover(landing, periods, sources)
        report.problems += problems
        key_id = hashlib.sha256(b"ygt-key-id|" + hashlib.sha256(key).digest()).hexdigest()[:16]
        known = dict(
            ((s, p), f)
            for s, p, f in con.execute(
                "SELECT source, period, fingerprint FROM raw.deliveries"
            ).fetchall()
        )
        digests = DigestCache(con, landing)
        if demo:
            LOG.warning(
                "note: hashing identifiers with the labelled DEMO key (set YGT_HASH_KEY for real data)"
            )
        for d in deliveries:
            # a changed profile of the source (or pin) lands the delivery again
            fp = digests.fingerprint(d, f"{key_id}|{profiles.fingerprint(d.source.name)}")
            skipped = [f"{name}: {why}" for name, why in d.skipped]
            for x in skipped:
                LOG.debug(f"  skipped {x}")  # the summary lists it as a warning
            if not force and known.get((d.source.name, d.period)) == fp:
                report.deliveries.append(
                    DeliveryResult(
                        d.source.name,
                        d.period,
                        "skipped",
                        fp,
                        message="unchanged since last landing",
                        skipped_files=skipped,
                    )
                )
                LOG.debug(
                    f"{d.source.name}/{d.period}: unchanged, skipped",
                    extra={"advance": 1, "where": f"{d.source.name}/{d.period}"},
                )
                continue
            LOG.debug(
                f"{d.source.name}/{d.period}: landing {len(d.files)} file(s)",
                extra={"where": f"{d.source.name}/{d.period}"},
            )
            try:
                r = land_delivery(con, d, landing, key, fp, tmp, datetime.now(), profiles)
            except (duckdb.Error, OSError, MemoryError) as exc:
                r = DeliveryResult(
                    d.source.name,
                    d.period,
                    "failed",
                    fp,
                    message=f"not landed, previous delivery kept: {clean_duckdb_error(exc)}",
                )
            r.skipped_files = skipped
            report.deliveries.append(r)
            LOG.log(
                logging.WARNING if r.status == "failed" else logging.DEBUG,
                f"{d.source.name}/{d.period}: {r.status}"
                + (
                    f" {r.rows_read:,} rows in {r.seconds:.1f}s"
                    if r.status == "landed"
                    else f" -- {r.message}"
                ),
                extra={"advance": 1, "where": f"{d.source.name}/{d.period}"},
            )
        try:
            con.execute("CHECKPOINT")
        except duckdb.Error as exc:  # the deliveries are committed (WAL); DuckDB retries at close
            report.problems.append(f"checkpoint after landing: {clean_duckdb_error(exc)}")
    finally:
        try:  # a caller's connection gets DuckDB's automatic checkpoints back, also after an error
            con.execute("RESET checkpoint_threshold")
        except duckdb.Error:
            pass
        stop_relay(relay, LOG.name)
        shutil.rmtree(tmp, ignore_errors=True)
        if digests is not None:
            report.files_hashed, report.files_hash_reused = digests.hashed, digests.reused
        report.seconds = time.perf_counter() - t0
        if own:
            con.close()
    if report.failed:
        raise LandingError(report.summary(), report)
    return report
