"""Paths and secrets, from the environment with sensible defaults. One place for each."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent  # holds dbt_project.yml, models/, seeds/
GX_DIR = PROJECT_DIR / "gx"

# The keyed-hash secret. Production: YGT_HASH_KEY or YGT_HASH_KEY_FILE (kept outside the
# warehouse, never committed). Without either, the clearly labelled demo key is used and the
# run says so.
DEMO_HASH_KEY = "ygt-DEMO-KEY-not-secret-do-not-use-with-real-data"


def hash_key() -> tuple[bytes, bool]:
    """Return (key, is_demo_key)."""
    if os.environ.get("YGT_HASH_KEY"):
        return os.environ["YGT_HASH_KEY"].encode(), False
    key_file = os.environ.get("YGT_HASH_KEY_FILE")
    if key_file:
        return Path(key_file).read_bytes().strip(), False
    return DEMO_HASH_KEY.encode(), True


# DuckDB's memory cap for every connection ygt opens and for dbt (profiles.yml reads the same
# variable; dbt.dbt_env sets it). DuckDB's own default is 80% of RAM, which a province-year
# build fills with cache; above the cap it spills to disk beside the database instead.
DEFAULT_MEMORY_LIMIT = "6GB"


def memory_limit() -> str:
    return os.environ.get("YGT_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT


def work_db_for(warehouse: Path) -> Path:
    """The private working database behind a published warehouse file.

    It keeps raw, staging and intermediate data between runs so a quarterly refresh only
    re-lands the new period; only the public schemas are copied into the published file.
    """
    override = os.environ.get("YGT_WORK_DB")
    if override:
        return Path(override)
    warehouse = Path(warehouse).resolve()
    return warehouse.parent / ".ygt-work" / f"{warehouse.stem}.work.duckdb"


def dagster_home() -> Path:
    """The Dagster instance `ygt run`, `ygt demo` and `dg dev` share: DAGSTER_HOME, else
    `.dagster/` in the project (its dagster.yaml is committed, its run storage git-ignored)."""
    return Path(os.environ.get("DAGSTER_HOME") or PROJECT_DIR / ".dagster")
