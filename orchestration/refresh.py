"""Which delivery periods a dbt build recomputes: the incremental quarterly refresh.

The heavy intermediate models (int_visits__daily, int_settlements__daily) are dbt incremental
models keyed by delivery period `_period`. Given YGT_REFRESH_PERIODS (a JSON list), each one
deletes and recomputes only the rows of those periods (macros/incremental_refresh.sql). The
models above them are views (staging, int_settlements__signed); those below are small and are
rebuilt in full.

`plan(con)` decides what to recompute:

- periods pending = every delivery landed since the start of the last successful build, so
  a build that failed or never ran is caught up by the next one;
- `None` (recompute everything) when no build has succeeded yet, when the facility register
  changed (it classifies every row of its year), or when the definitions changed: dbt vars,
  seeds, models or macros (a new TCM department code must reach every past period too).

`record(con, started_at, periods)` is called after a successful build.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

from orchestration.settings import DBT_DEFINITION_PATHS, PROJECT_DIR

BUILDS_TABLE = "raw.dbt_builds"
# read by macros/incremental_refresh.sql: JSON list of periods to recompute, or null for all
REFRESH_ENV = "YGT_REFRESH_PERIODS"
# Registers joined row by row by the incremental models: a change re-classifies past periods.
FULL_REFRESH_SOURCES = {"facilities"}


def definitions_fingerprint(vars: dict) -> str:
    """Hash of everything that defines the computation: dbt files and the vars in force."""
    h = hashlib.sha256(json.dumps(vars, sort_keys=True, ensure_ascii=False).encode())
    for name in DBT_DEFINITION_PATHS:
        root = Path(PROJECT_DIR) / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            h.update(path.relative_to(PROJECT_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _ensure_table(con) -> None:
    con.execute("create schema if not exists raw")
    con.execute(
        f"create table if not exists {BUILDS_TABLE} (started_at timestamp, finished_at timestamp, "
        "refresh_periods varchar, definitions varchar)"
    )


def plan(con, vars: dict) -> list[str] | None:
    """The delivery periods to recompute, or None for all of them (see module doc)."""
    _ensure_table(con)
    last = con.execute(
        f"select started_at, definitions from {BUILDS_TABLE} order by started_at desc limit 1"
    ).fetchone()
    if last is None or last[1] != definitions_fingerprint(vars):
        return None
    landed = con.execute(
        "select distinct source, period from raw.deliveries where landed_at >= ?", [last[0]]
    ).fetchall()
    if any(source in FULL_REFRESH_SOURCES for source, _ in landed):
        return None
    return sorted({period for _, period in landed})


def record(con, started_at: datetime, periods: list[str] | None, vars: dict) -> None:
    """Remember a successful build: the next plan() starts from `started_at`."""
    _ensure_table(con)
    con.execute(
        f"insert into {BUILDS_TABLE} values (?, ?, ?, ?)",
        [
            started_at,
            datetime.now(),
            None if periods is None else json.dumps(periods),
            definitions_fingerprint(vars),
        ],
    )
