"""Reading the published warehouse from long-lived processes (BI servers, notebooks, web apps).

Inside one process DuckDB reuses an open database instance per path: `duckdb.connect(path)`
returns the instance already open for that path, so a threaded server whose queries overlap
keeps reading the warehouse it first opened, after any number of refreshes, until every
connection to that path is closed at the same moment (NullPool does not help: the overlapping
queries keep the instance open). Each publish also writes the new file under a path of its own
(`<stem>_versions/<id>/<name>`, orchestration.publish); the helpers here resolve the current one
for every new connection, so a new connection opens the new version (a new instance) while
open ones keep the previous complete warehouse.

    from orchestration import bi
    con = bi.connect("/srv/ygt/warehouse.duckdb")           # DuckDB, read-only
    engine = bi.sqlalchemy_engine("/srv/ygt/warehouse.duckdb")  # SQLAlchemy + duckdb-engine

Tools that just open `warehouse.duckdb` read-only keep working; in a long-lived process they
see a refresh only when all their connections to it are closed. docs/bi.md has the recipe for
Superset (a DB_CONNECTION_MUTATOR in superset_config.py doing what current_version does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from orchestration.publish import current_version

__all__ = ["connect", "current_version", "sqlalchemy_engine"]

# a version that was current when resolved can be removed before it is opened (two publishes
# in between): resolve again, a few times
_ATTEMPTS = 3


def connect(warehouse: str | Path, config: dict[str, Any] | None = None):
    """A read-only DuckDB connection to the current version of the published `warehouse`."""
    for attempt in range(_ATTEMPTS):
        path = current_version(warehouse)
        try:
            return duckdb.connect(str(path), read_only=True, config=dict(config or {}))
        except duckdb.Error:
            if path.exists() or attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def sqlalchemy_engine(warehouse: str | Path, **kwargs):
    """A SQLAlchemy engine (duckdb-engine) reading the published `warehouse` read-only, each new
    connection opening the current version. A pooled connection opened before a refresh is
    replaced when it is next checked out (pool `checkout` event), so the default pool works as
    well as NullPool; a connection in use is never interrupted. kwargs go to create_engine."""
    import sqlalchemy as sa

    warehouse = Path(warehouse)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args["read_only"] = True
    engine = sa.create_engine(f"duckdb:///{warehouse}", connect_args=connect_args, **kwargs)

    @sa.event.listens_for(engine, "do_connect")
    def _open_current(dialect, record, cargs, cparams):
        for attempt in range(_ATTEMPTS):
            path = current_version(warehouse)
            params = dict(cparams, database=str(path))
            try:
                conn = dialect.connect(*cargs, **params)
            except duckdb.Error:
                if path.exists() or attempt == _ATTEMPTS - 1:
                    raise
                continue
            record.info["ygt_warehouse"] = str(path)
            return conn
        raise AssertionError("unreachable")

    @sa.event.listens_for(engine, "checkout")
    def _replace_if_stale(dbapi_connection, record, proxy):
        if record.info.get("ygt_warehouse") != str(current_version(warehouse)):
            # the pool closes this connection and opens a new one (do_connect above)
            raise sa.exc.DisconnectionError("a newer warehouse was published")

    return engine
