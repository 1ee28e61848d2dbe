"""The raw schema: one table per source (columns from `contract.raw_columns`) and the loader's
bookkeeping tables. The layout is documented in docs/architecture.md ("Raw schema")."""

from __future__ import annotations

import duckdb

from orchestration import contract
from orchestration.duck import q
from orchestration.land.report import LandingError

AUDIT_COLUMNS = [
    ("source", "VARCHAR"), ("period", "VARCHAR"), ("file", "VARCHAR"), ("rows_read", "BIGINT"),
    ("rows_loaded", "BIGINT"), ("rows_quarantined", "BIGINT"), ("rows_duplicate", "BIGINT"),
    ("loaded_at", "TIMESTAMP"), ("status", "VARCHAR"), ("message", "VARCHAR"),
    ("profile", "VARCHAR"),
]  # fmt: skip
QUARANTINE_COLUMNS = [
    ("source", "VARCHAR"), ("period", "VARCHAR"), ("file", "VARCHAR"), ("line", "BIGINT"),
    ("reason", "VARCHAR"), ("record", "JSON"),
]  # fmt: skip
DELIVERY_COLUMNS = [
    ("source", "VARCHAR"),
    ("period", "VARCHAR"),
    ("fingerprint", "VARCHAR"),
    ("landed_at", "TIMESTAMP"),
]
DIGEST_COLUMNS = [  # content hashes of landing files and the stat they were taken at
    ("source", "VARCHAR"), ("period", "VARCHAR"), ("file", "VARCHAR"), ("size", "BIGINT"),
    ("mtime_ns", "BIGINT"), ("ctime_ns", "BIGINT"), ("inode", "UBIGINT"), ("sha256", "VARCHAR"),
    ("hashed_at_ns", "BIGINT"),
]  # fmt: skip
BOOKKEEPING = {
    "quarantine": QUARANTINE_COLUMNS,
    "load_audit": AUDIT_COLUMNS,
    "deliveries": DELIVERY_COLUMNS,
    "file_digests": DIGEST_COLUMNS,
}


def _table_columns(con, schema: str, table: str) -> list[tuple[str, str]] | None:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return [(r[0], r[1]) for r in rows] or None


def _same_layout(have: list[tuple[str, str]], want: list[tuple[str, str]]) -> bool:
    norm = lambda t: t.upper().replace(" ", "")  # noqa: E731
    return [(n, norm(t)) for n, t in have] == [(n, norm(t)) for n, t in want]


def create_raw_schema(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create schema raw and every raw table (from contract.raw_columns) that does not exist.

    A raw.<source> table whose columns differ from the contract (the contract changed) is
    rebuilt empty and its deliveries forgotten, so the next landing re-lands them. Returns a
    message per rebuilt table."""
    notes: list[str] = []
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for name, cols in BOOKKEEPING.items():
        have = _table_columns(con, "raw", name)
        if have is not None and _same_layout(have, cols[: len(have)]) and len(have) < len(cols):
            for n, t in cols[len(have) :]:  # columns added since (load_audit.profile): append
                con.execute(f"ALTER TABLE raw.{name} ADD COLUMN {q(n)} {t}")
            have = _table_columns(con, "raw", name)
        if have is not None and not _same_layout(have, cols):
            raise LandingError(
                f"raw.{name} has columns {have}, expected {cols}: this working database "
                f"was made by another loader version; delete it and land again"
            )
        con.execute(
            f"CREATE TABLE IF NOT EXISTS raw.{name} ({', '.join(f'{q(n)} {t}' for n, t in cols)})"
        )
    for src in contract.SOURCES:
        want = contract.raw_columns(src)
        have = _table_columns(con, "raw", src.name)
        if have is not None and not _same_layout(have, want):
            con.execute(f"DROP TABLE raw.{q(src.name)}")
            for t in BOOKKEEPING:
                con.execute(f"DELETE FROM raw.{t} WHERE source = ?", [src.name])
            notes.append(
                f"raw.{src.name}: columns changed in the contract; table rebuilt, all its "
                f"deliveries will be re-landed"
            )
        con.execute(
            f"CREATE TABLE IF NOT EXISTS raw.{q(src.name)} "
            f"({', '.join(f'{q(n)} {t}' for n, t in want)})"
        )
    return notes
