"""Atomic publication of the warehouse file that analysts and BI tools read.

The public schema is copied from the working database into a new file beside the target,
then `os.replace` swaps it in. On POSIX a reader that already has the old file open keeps
reading the old inode; a new connection sees the new file; nobody ever sees a half-built one.
A failure at any point leaves the previous warehouse untouched (the temp file is removed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestration import duck
from orchestration.duck import lit, q

PUBLIC_SCHEMAS = ("marts",)


@dataclass
class PublishResult:
    warehouse: Path
    tables: dict[str, int]  # "schema.table" -> rows
    bytes: int


def publish(
    work_db: Path, warehouse: Path, schemas: tuple[str, ...] = PUBLIC_SCHEMAS
) -> PublishResult:
    warehouse = Path(warehouse).resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(warehouse)
    tmp = warehouse.with_name(f"{_temp_prefixes(warehouse)[0]}{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tables: dict[str, int] = {}
    try:
        con = duck.connect(tmp)
        try:
            # attached under its own catalog name, which its views (marts.data_quality) use
            # for the tables they read
            con.execute(f"ATTACH {lit(str(work_db))} (READ_ONLY)")
            work = con.execute(
                "SELECT database_name FROM duckdb_databases() WHERE NOT internal "
                "AND database_name <> current_database()"
            ).fetchone()[0]
            for schema in schemas:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
                rels = con.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_catalog = ? AND table_schema = ? ORDER BY table_name",
                    [work, schema],
                ).fetchall()
                for (name,) in rels:  # tables and views alike become tables
                    target = f"{q(schema)}.{q(name)}"
                    con.execute(
                        f"CREATE TABLE {target} AS SELECT * FROM {q(work)}.{q(schema)}.{q(name)}"
                    )
                    tables[f"{schema}.{name}"] = con.execute(
                        f"SELECT count(*) FROM {target}"
                    ).fetchone()[0]
                _copy_comments(con, work, schema)
            con.execute(f"DETACH {q(work)}")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, warehouse)
        _fsync_dir(warehouse.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
        raise
    return PublishResult(warehouse, tables, warehouse.stat().st_size)


def _temp_prefixes(warehouse: Path) -> tuple[str, str]:
    """Names of the file a publish writes, + its pid: `.publishing-<warehouse>.tmp-`, and
    `.<warehouse>.tmp-` of earlier versions. The first part of the name differs from the working
    database's (`<stem>.work.duckdb`), so DuckDB gives the two different catalog names."""
    return f".publishing-{warehouse.name}.tmp-", f".{warehouse.name}.tmp-"


def _remove_stale_temps(warehouse: Path) -> None:
    """Remove temp files left by publishes that were killed (SIGKILL, power loss): their
    process no longer exists. A temp file of a publish still running is left alone."""
    for prefix in _temp_prefixes(warehouse):
        for path in warehouse.parent.glob(prefix + "*"):
            pid = path.name[len(prefix) :].split(".")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
                path.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _copy_comments(con, work: str, schema: str) -> None:
    """Carry table, view and column comments (from dbt's persist_docs) from the attached
    database `work`, so SQL clients show them."""
    for table, comment in con.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = ? "
        "AND schema_name = ? AND comment IS NOT NULL UNION ALL SELECT view_name, comment "
        "FROM duckdb_views() WHERE database_name = ? AND schema_name = ? AND comment IS NOT NULL",
        [work, schema, work, schema],
    ).fetchall():
        con.execute(f"COMMENT ON TABLE {q(schema)}.{q(table)} IS {lit(comment)}")
    for table, column, comment in con.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE database_name = ? "
        "AND schema_name = ? AND comment IS NOT NULL",
        [work, schema],
    ).fetchall():
        con.execute(f"COMMENT ON COLUMN {q(schema)}.{q(table)}.{q(column)} IS {lit(comment)}")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
