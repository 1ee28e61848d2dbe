"""The raw hand-over: the landed `raw` tables of a working database as Parquet, for a platform
that pools many provinces on Spark (docs/scale.md).

Layout under the hand-over folder `<root>`:

    <root>/<source>/_period=<period>/<prefix>_<i>.parquet   every raw.<source> of the contract,
                                                            Hive-partitioned by delivery period
    <root>/load_audit/<prefix>.parquet                      raw.load_audit (one file)
    <root>/dq_results/<prefix>.parquet                      raw.dq_results (one file)

Columns and types are those of the raw tables (docs/architecture.md, "Raw schema"); identifiers
are already keyed hashes, names already dropped, so nothing personal leaves in clear. The
partition column `_period` lives in the folder name, not in the files. `prefix` names the
sender (e.g. the province code): several senders write into the same folders, and a new
export replaces only the sender's own files. raw.quarantine and raw.deliveries stay behind
(bookkeeping of the landing, not read by the models).

Spark registers the folders as tables raw.<name> with the dbt macro `register_raw_handover`
(macros/spark.sql), which takes the columns from the dbt sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from orchestration import contract
from orchestration.duck import lit, q

PARTITION = "_period"
BOOKKEEPING_TABLES = ("load_audit", "dq_results")  # read by the models, small: one file each


def handover_tables() -> list[str]:
    """Every raw table the dbt sources read, in the order they are exported."""
    return [s.name for s in contract.SOURCES] + list(BOOKKEEPING_TABLES)


def export_raw(
    con, root: Path, prefix: str = "part", progress: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Write the raw tables of the DuckDB connection `con` under `root` (layout above).

    Returns rows written per table. Raises ValueError for a prefix that is not a plain name and
    LookupError naming a raw table that does not exist (land first)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", prefix):
        raise ValueError(f"hand-over prefix {prefix!r}: use letters, digits, '_' or '-'")
    root = Path(root).resolve()
    have = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    }
    missing = [t for t in handover_tables() if t not in have]
    if missing:
        raise LookupError(
            f"raw tables missing in the working database: {', '.join(missing)}; "
            "land the deliveries (ygt land / ygt run) before exporting"
        )
    written: dict[str, int] = {}
    for table in handover_tables():
        folder = root / table
        folder.mkdir(parents=True, exist_ok=True)
        # replace this sender's files only; other senders' files in the same folders stay
        for old in [
            *folder.glob(f"{PARTITION}=*/{prefix}_*.parquet"),
            folder / f"{prefix}.parquet",
        ]:
            old.unlink(missing_ok=True)
        n = con.execute(f"select count(*) from raw.{q(table)}").fetchone()[0]
        if table in BOOKKEEPING_TABLES:
            con.execute(
                f"copy raw.{q(table)} to {lit(folder / f'{prefix}.parquet')} (format parquet)"
            )
        elif n:
            con.execute(
                f"copy raw.{q(table)} to {lit(folder)} (format parquet, partition_by ({PARTITION}), "
                f"filename_pattern {lit(prefix + '_{i}')}, overwrite_or_ignore)"
            )
        for empty in folder.glob(f"{PARTITION}=*"):  # a period re-landed as nothing
            if empty.is_dir() and not any(empty.iterdir()):
                empty.rmdir()
        written[table] = n
        if progress:
            progress(f"  raw.{table}: {n} rows → {folder}")
    return written
