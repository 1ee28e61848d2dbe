"""Great Expectations' SQL path on DuckDB (duckdb-engine): every workaround it needs, here only.

GE 1.24 has no DuckDB data source; its generic SQL data source reaches DuckDB through
duckdb-engine and SQLAlchemy. Five things stand in the way, each patched by `install()` and
each shown by a test in tests/python/test_gx_duckdb.py that fails once upstream no longer needs
the patch:

1. Rows vanish. `SqlAlchemyExecutionEngine.execute_query` returns a result from inside
   `with self.get_connection()` and GE fetches it after the connection is closed; duckdb-engine
   discards a result's pending rows on close, so every metric read `[]` and every expectation
   failed with `list index out of range` (GE issues #10738, #11579). The patch buffers the rows
   inside the connection (`result.freeze()`).
2. No regular expressions. `get_dialect_regex_expression` knows no DuckDB dialect (duckdb-engine's
   dialect is an instance of a Postgres subclass, which GE tests as a module), returns None, and
   `expect_column_values_to_match_regex` logs "Regex is not supported for dialect duckdb" and
   returns no result. The patch gives DuckDB's `regexp_matches(column, pattern)`: a search, like
   Postgres's `~` and pandas' `str.contains` that GE uses elsewhere.
3. A second connection to an open file. The gates already hold the working database open;
   DuckDB lets the same process open the same file again only with the same configuration, and
   duckdb-engine adds a `custom_user_agent` to it. The patch turns that off
   (`duckdb_engine.supports_user_agent`), and `engine_kwargs` passes the project's own
   configuration (`orchestration.duck.connect`).
4. A large set checked value by value. An in-set expectation's failing rows are
   `x NOT IN (<the set's values>)`. DuckDB turns `x IN (<many constants>)` into a hash join but
   not its negation, which it tests constant by constant, three times per batch (count,
   failing values, failing rows): the facility-register check was most of the raw gates' time
   (bench/README.md, "Measured choices"). The patch compiles a NOT IN over `LARGE_SET` or more
   values as `x NOT IN (SELECT unnest([...]))`, the same test (NULLs included), which DuckDB
   runs as an anti-join.
5. An expectation serialised again at every read. `Expectation.configuration` is a property
   that serialises the expectation's fields (pydantic's `.dict()`) each time it is read, and a
   validation reads it about seventy times per expectation and batch (once per domain and
   success keyword): ~0.8 s of the raw gates' 7.8 s on a county's year (bench/README.md,
   "Measured choices"). Inside
   `serialised_once()` (the gates' validation) an expectation's `.dict(exclude_defaults=True)`
   is computed once and handed out as a deep copy, so nothing a caller changes reaches the next
   read; assigning any field of the expectation forgets it.

`connections_closed` closes GE's connections when the gates end, so the file is free for dbt
and publish.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from pathlib import Path

from orchestration import duck, settings

_installed = False
_opened: list | None = None  # DuckDB connections SQLAlchemy opened inside `connections_closed`
_serialised: dict | None = None  # id(expectation) -> (expectation, its fields) in `serialised_once`
REGEX_METRIC_MODULES = (
    "great_expectations.expectations.metrics.util",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_match_regex",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_not_match_regex",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_match_regex_list",
    "great_expectations.expectations.metrics.column_map_metrics.column_values_not_match_regex_list",
)


def connection_string(path: str | Path) -> str:
    return f"duckdb:///{Path(path).resolve()}"


def engine_kwargs() -> dict:
    """create_engine keyword arguments: the configuration `duck.connect` opens databases with,
    so DuckDB accepts GE's connection to a file this process already has open."""
    return {
        "connect_args": {
            "config": {
                "extension_directory": duck.extension_directory(),
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "memory_limit": settings.memory_limit(),
            }
        }
    }


def buffered_execute_query(self, query):
    """`SqlAlchemyExecutionEngine.execute_query`, with the rows read before the connection
    closes."""
    with self.get_connection() as connection:
        result = self._execute_query_with_recovery(connection, query)
        if result.returns_rows:
            return result.freeze()()
    return result


LARGE_SET = 64  # below this many values the constant-by-constant test costs little


def anti_join_compiler(upstream):
    """duckdb-engine's statement compiler with a large `NOT IN (...)` compiled as a subquery."""

    class Compiler(upstream):
        def visit_not_in_op_binary(self, binary, operator, **kw):
            values = getattr(binary.right, "value", None)
            if getattr(binary.right, "expanding", False) and len(values or ()) >= LARGE_SET:
                listed = self.process(binary.right, **kw)  # "(v1, v2, ...)"
                return (
                    f"({self.process(binary.left, **kw)} NOT IN (SELECT unnest([{listed[1:-1]}])))"
                )
            return super().visit_not_in_op_binary(binary, operator, **kw)

    Compiler.upstream = upstream
    return Compiler


def duckdb_regex_expression(upstream):
    def regex_expression(column, regex, dialect, positive=True):
        expression = upstream(column, regex, dialect, positive)
        if expression is None and getattr(dialect, "name", None) == "duckdb":
            import sqlalchemy as sa

            expression = sa.func.regexp_matches(column, sa.literal(regex))
            if not positive:
                expression = sa.not_(expression)
        return expression

    regex_expression.upstream = upstream
    return regex_expression


def serialise_once(upstream):
    """`Expectation.dict`, computed once per expectation inside `serialised_once` for the call
    `configuration` makes; other calls, and calls outside, go upstream."""

    def as_dict(self, **kwargs):
        if _serialised is None or kwargs != {"exclude_defaults": True}:
            return upstream(self, **kwargs)
        kept = _serialised.get(id(self))
        if kept is None or kept[0] is not self:  # an id is reused only after its object is gone
            kept = _serialised[id(self)] = (self, upstream(self, **kwargs))
        return copy.deepcopy(kept[1])

    as_dict.upstream = upstream
    return as_dict


def forget_on_assignment(upstream):
    """`Expectation.__setattr__` that drops what `serialise_once` kept of the expectation."""

    def setattr_(self, name, value):
        if _serialised is not None:
            _serialised.pop(id(self), None)
        upstream(self, name, value)

    setattr_.upstream = upstream
    return setattr_


@contextmanager
def serialised_once():
    """Keep each expectation's serialised fields while inside (patch 5)."""
    global _serialised
    _serialised = {}
    try:
        yield
    finally:
        _serialised = None


@contextmanager
def connections_closed():
    """Close, on leaving, every DuckDB connection SQLAlchemy opened inside: DuckDB keeps the
    file (and its lock) open while one is, and dbt, publish or a read-only reader open it next
    with another configuration. GE makes engines of its own (per data source object it loads
    and in its execution engine) and keeps connections checked out, so disposing the data
    source's engine is not enough."""
    global _opened
    _opened = []
    try:
        yield
    finally:
        opened, _opened = _opened, None
        for connection in opened:
            try:
                connection.close()
            except Exception:
                pass


def _record_connection(dbapi_connection, _record) -> None:
    if _opened is not None and isinstance(dbapi_connection, duckdb_engine_connection()):
        _opened.append(dbapi_connection)


def duckdb_engine_connection():
    import duckdb_engine

    return duckdb_engine.ConnectionWrapper


def install() -> None:
    """Apply the five patches (once per process)."""
    global _installed
    if _installed:
        return
    import importlib

    import duckdb_engine
    from great_expectations.execution_engine.sqlalchemy_execution_engine import (
        SqlAlchemyExecutionEngine,
    )

    SqlAlchemyExecutionEngine.execute_query = buffered_execute_query
    for name in REGEX_METRIC_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "get_dialect_regex_expression"):
            module.get_dialect_regex_expression = duckdb_regex_expression(
                module.get_dialect_regex_expression
            )
    duckdb_engine.supports_user_agent = False
    duckdb_engine.Dialect.statement_compiler = anti_join_compiler(
        duckdb_engine.Dialect.statement_compiler
    )

    from great_expectations.expectations.expectation import Expectation

    Expectation.dict = serialise_once(Expectation.dict)
    Expectation.__setattr__ = forget_on_assignment(Expectation.__setattr__)

    import sqlalchemy as sa

    sa.event.listen(sa.engine.Engine, "connect", _record_connection)
    _installed = True
