"""DuckDB connections with the offline extensions (GB18030 CSV, .xlsx) available."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from orchestration import settings


def extension_directory() -> str:
    import duckdb_ext  # namespace package installed by duckdb-ext-encodings / duckdb-ext-excel

    return os.path.join(list(duckdb_ext.__path__)[0], "extensions")


def connect(path: str | Path = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database; never downloads anything."""
    con = duckdb.connect(
        str(path),
        read_only=read_only,
        config={
            "extension_directory": extension_directory(),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "memory_limit": settings.memory_limit(),
        },
    )
    return con


def load_extensions(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("LOAD encodings")
    con.execute("LOAD excel")


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def lit_list(values) -> str:
    """A SQL list of string literals, e.g. the files of a multi-file read."""
    return "[" + ", ".join(lit(v) for v in values) + "]"


def insert_rows(con, table: str, rows: list[tuple | list]) -> None:
    """Insert many rows in one statement (one list parameter per column, unnested side by side):
    executemany costs a round trip per row, which adds up over thousands of files."""
    if rows:
        cols = list(zip(*rows))
        con.execute(
            f"INSERT INTO {table} SELECT {', '.join(f'unnest(${i + 1})' for i in range(len(cols)))}",
            [list(c) for c in cols],
        )
