"""Atomic publication of the warehouse file that analysts and BI tools read.

The public schema is copied from the working database into a new file beside the target,
then `os.replace` swaps it in. On POSIX a reader that already has the old file open keeps
reading the old inode; a new connection sees the new file; nobody ever sees a half-built one.
A failure at any point leaves the previous warehouse untouched (the temp file is removed).

Versions for long-lived readers: inside one process DuckDB reuses an open database instance
per path, so a threaded server (a BI tool with a connection pool) whose queries overlap keeps
reading the file it first opened for as long as any connection to that path stays open. Each
publish therefore also links the new file into `<stem>_versions/<id>/<name>` (a hard link: no
extra disk; a copy where the file system has no hard links) and then points
`<stem>_versions/CURRENT` at it. A reader that resolves CURRENT per connection
(`orchestration.bi`, or the Superset hook in docs/bi.md) opens a new path after each refresh,
so DuckDB opens a new instance. The current version and the one before it are kept; older
ones are removed (an open reader keeps reading a removed file). `warehouse.duckdb` stays the
stable name for every other reader.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestration import duck
from orchestration.duck import lit, q

PUBLIC_SCHEMAS = ("marts",)
POINTER = "CURRENT"  # in the versions folder: the name of the current version's folder
KEEP_VERSIONS = 2  # the current version and the one before it


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
    version = pointer_tmp = None
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
        version, pointer_tmp = _stage_version(tmp, warehouse)
        os.replace(tmp, warehouse)
    except BaseException:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
        if version is not None:
            shutil.rmtree(version.parent, ignore_errors=True)
        if pointer_tmp is not None:
            pointer_tmp.unlink(missing_ok=True)
        raise
    # published: point the versioned readers at it (a rename in the same folder)
    os.replace(pointer_tmp, versions_dir(warehouse) / POINTER)
    _fsync_dir(warehouse.parent)
    _fsync_dir(versions_dir(warehouse))
    try:
        _prune_versions(warehouse)
    except OSError:  # housekeeping: the publish itself succeeded, the next one prunes again
        pass
    return PublishResult(warehouse, tables, warehouse.stat().st_size)


def versions_dir(warehouse: Path) -> Path:
    """`<stem>_versions/` beside the warehouse: one folder per published version."""
    warehouse = Path(warehouse)
    return warehouse.with_name(f"{warehouse.stem}_versions")


def current_version(warehouse: str | Path) -> Path:
    """The file a new reader of `warehouse` should open: the version `<stem>_versions/CURRENT`
    names (the same content as `warehouse`, under a path of its own), or `warehouse` itself
    when there is no version (published before versions existed, or by hand)."""
    warehouse = Path(warehouse)
    try:
        name = (versions_dir(warehouse) / POINTER).read_text(encoding="utf-8").strip()
    except OSError:
        return warehouse
    if not name or name != Path(name).name or name.startswith("."):
        return warehouse  # not a folder name of ours
    path = versions_dir(warehouse) / name / warehouse.name
    return path if path.exists() else warehouse


def _stage_version(tmp: Path, warehouse: Path) -> tuple[Path, Path]:
    """Link the finished temp file into a new version folder and write the pointer's temp
    file; returns (version file, pointer temp file). The folder name sorts by time and ends
    with the pid, so a killed publish's folder can be told apart and removed."""
    versions = versions_dir(warehouse)
    versions.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = versions / f"{stamp}-{os.getpid()}"
    folder.mkdir()
    version = folder / warehouse.name
    pointer_tmp = versions / f".{POINTER}.tmp-{os.getpid()}"
    try:
        try:
            os.link(tmp, version)
        except OSError:  # no hard links on this file system (some network shares): copy
            shutil.copyfile(tmp, version)
            with open(version, "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(folder)
        with open(pointer_tmp, "w", encoding="utf-8") as fh:
            fh.write(folder.name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        pointer_tmp.unlink(missing_ok=True)
        raise
    return version, pointer_tmp


def _prune_versions(warehouse: Path) -> None:
    """Keep the current version and the KEEP_VERSIONS - 1 before it; remove older ones and
    the folders and pointer temp files of publishes that were killed. A reader that has a
    removed version open keeps reading it (POSIX); a new reader resolves CURRENT."""
    versions = versions_dir(warehouse)
    current = current_version(warehouse)
    if current.parent.parent != versions:
        return
    for path in versions.glob(f".{POINTER}.tmp-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            path.unlink(missing_ok=True)
    folders = sorted(p for p in versions.iterdir() if p.is_dir() and not p.name.startswith("."))
    older = [p for p in folders if p.name < current.parent.name]
    for folder in older[: max(0, len(older) - (KEEP_VERSIONS - 1))]:
        shutil.rmtree(folder, ignore_errors=True)
    for folder in folders:
        pid = folder.name.rsplit("-", 1)[-1]
        if (
            folder.name > current.parent.name
            and pid.isdigit()
            and int(pid) != os.getpid()
            and not _process_alive(int(pid))
        ):
            shutil.rmtree(folder, ignore_errors=True)  # a killed publish's, never made current


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
