"""Export the public marts of a published warehouse to Parquet files.

`export_parquet(warehouse, dest_dir)` writes `<dest_dir>/<table>.parquet` for every table of
schema `marts`. The files are written into a temp folder beside `dest_dir` and the folder is
then renamed into place, so a reader never sees a half-written export: every Parquet file it
opens is complete and all files come from the same warehouse. (While an older export is being
replaced, `dest_dir` is missing for the instant between two renames.)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from orchestration import duck
from orchestration.duck import lit, q

SCHEMA = "marts"


def default_dest(warehouse: Path) -> Path:
    """`warehouse.duckdb` -> `warehouse_parquet/` next to it."""
    warehouse = Path(warehouse)
    return warehouse.with_name(f"{warehouse.stem}_parquet")


def export_parquet(warehouse: Path, dest_dir: Path | None = None) -> dict[str, int]:
    """Write every table of `marts` to `<dest_dir>/<table>.parquet`; return {table: rows}."""
    warehouse = Path(warehouse).resolve()
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist; run `ygt run` first")
    dest = Path(dest_dir).resolve() if dest_dir is not None else default_dest(warehouse)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    rows: dict[str, int] = {}
    try:
        con = duck.connect(warehouse, read_only=True)
        try:
            tables = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                    "AND schema_name = ? ORDER BY table_name",
                    [SCHEMA],
                ).fetchall()
            ]
            for table in tables:
                target = tmp / f"{table}.parquet"
                count = con.execute(
                    f"COPY {q(SCHEMA)}.{q(table)} TO {lit(str(target))} "
                    "(FORMAT parquet, COMPRESSION zstd)"
                ).fetchone()[0]
                rows[table] = int(count)
        finally:
            con.close()
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if dest.exists():
            os.replace(dest, old)
        try:
            os.replace(tmp, dest)
        except BaseException:
            if old.exists() and not dest.exists():
                os.replace(old, dest)  # put the previous export back
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
    return rows
