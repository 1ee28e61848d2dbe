"""Paths, secrets and knobs, from the environment with sensible defaults.

Every environment variable ygt reads is read here, one function each; other modules only pass
the environment on to the processes they start (dbt)."""

from __future__ import annotations

import json
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent  # holds dbt_project.yml, models/, seeds/
GX_DIR = PROJECT_DIR / "gx"

# What defines the dbt computation (a change makes the next build recompute every period,
# orchestration/refresh.py), and what the Dagster manifest is parsed from (a change re-parses).
DBT_DEFINITION_PATHS = ("dbt_project.yml", "models", "macros", "seeds")
DBT_MANIFEST_INPUTS = (*DBT_DEFINITION_PATHS, "tests/dbt", "profiles.yml")

# The landing folder and warehouse the Dagster code location uses (relative to PROJECT_DIR).
DEFAULT_LANDING = "demo/landing"
DEFAULT_WAREHOUSE = "demo/warehouse.duckdb"

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


def dbt_target_for(work_db: Path) -> Path:
    """dbt's target folder for builds of `work_db`, beside it: each warehouse keeps its own
    artefacts (run results, docs) and partial-parse state, which dbt discards whenever the
    profile (here: the DuckDB path) differs from the last parse in the same folder."""
    work_db = Path(work_db).resolve()
    return work_db.parent / f"{work_db.stem}.dbt-target"


def dagster_home() -> Path:
    """The Dagster instance `ygt run`, `ygt demo` and `dg dev` share: DAGSTER_HOME, else
    `.dagster/` in the project (its dagster.yaml is committed, its run storage git-ignored)."""
    return Path(os.environ.get("DAGSTER_HOME") or PROJECT_DIR / ".dagster")


def dagster_paths() -> tuple[str, str]:
    """(landing, warehouse) for the Dagster code location: YGT_LANDING and YGT_WAREHOUSE."""
    return (
        os.environ.get("YGT_LANDING") or DEFAULT_LANDING,
        os.environ.get("YGT_WAREHOUSE") or DEFAULT_WAREHOUSE,
    )


def first_year() -> int:
    """The first year the Dagster partitions offer: YGT_FIRST_YEAR, default 2020."""
    return int(os.environ.get("YGT_FIRST_YEAR") or 2020)


def sensor_settle_seconds() -> float:
    """Files younger than this are still being copied; the landing sensor waits for the next
    tick: YGT_SENSOR_SETTLE_SECONDS, default 120."""
    return float(os.environ.get("YGT_SENSOR_SETTLE_SECONDS") or 120)


def dbt_var_overrides() -> dict:
    """YGT_DBT_VARS: a JSON object of dbt vars replacing defaults of dbt_project.yml
    (e.g. '{"min_dispatch_days": 183}'); empty when unset."""
    text = os.environ.get("YGT_DBT_VARS")
    if not text:
        return {}
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise ValueError("YGT_DBT_VARS must be a JSON object")
    return parsed


# No usage statistics leave the machine: Great Expectations, Dagster and dbt are told so,
# unless the environment already says otherwise.
TELEMETRY_OPT_OUTS = {
    "GX_ANALYTICS_ENABLED": "false",
    "DAGSTER_DISABLE_TELEMETRY": "true",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
}


def quiet_telemetry(env: dict | None = None) -> None:
    """Set TELEMETRY_OPT_OUTS in `env` (default: this process's environment) where unset."""
    target = os.environ if env is None else env
    for name, value in TELEMETRY_OPT_OUTS.items():
        target.setdefault(name, value)
