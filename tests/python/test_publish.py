"""Atomic publication: a reader sees the old or the new warehouse, never half of one."""

import hashlib
from pathlib import Path

import duckdb
import pytest

from orchestration import duck
from orchestration.publish import publish


def make_work_db(path: Path, rows: list[tuple[str, float]]) -> None:
    con = duck.connect(path)
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists raw")
    con.execute("create or replace table raw.secret as select 'not public' as x")
    con.execute("create or replace table marts.indicator_values (area_code varchar, value double)")
    con.executemany("insert into marts.indicator_values values (?, ?)", rows)
    con.execute("comment on table marts.indicator_values is '指标值 indicator values'")
    con.execute("comment on column marts.indicator_values.value is 'the value'")
    con.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_copies_public_schema_only_with_comments(tmp_path):
    work = tmp_path / "work.duckdb"
    make_work_db(work, [("990101", 0.5), ("990102", 0.25)])
    result = publish(work, tmp_path / "wh.duckdb")
    assert result.tables == {"marts.indicator_values": 2}
    con = duck.connect(tmp_path / "wh.duckdb", read_only=True)
    assert con.execute("select sum(value) from marts.indicator_values").fetchone()[0] == 0.75
    assert (
        con.execute("select count(*) from duckdb_tables() where schema_name = 'raw'").fetchone()[0]
        == 0
    )
    assert (
        con.execute(
            "select comment from duckdb_tables() where table_name = 'indicator_values'"
        ).fetchone()[0]
        == "指标值 indicator values"
    )
    assert (
        con.execute(
            "select comment from duckdb_columns() where table_name = 'indicator_values' and column_name = 'value'"
        ).fetchone()[0]
        == "the value"
    )
    con.close()
    assert not list(tmp_path.glob("*wh.duckdb.tmp*"))


def test_open_reader_keeps_old_data_new_reader_sees_new(tmp_path):
    work, wh = tmp_path / "work.duckdb", tmp_path / "wh.duckdb"
    make_work_db(work, [("990101", 1.0)])
    publish(work, wh)
    reader = duck.connect(wh, read_only=True)
    assert reader.execute("select sum(value) from marts.indicator_values").fetchone()[0] == 1.0
    make_work_db(work, [("990101", 2.0), ("990102", 3.0)])
    publish(work, wh)
    # the open connection still reads the file it opened
    assert reader.execute("select sum(value) from marts.indicator_values").fetchone()[0] == 1.0
    reader.close()
    fresh = duck.connect(wh, read_only=True)
    assert fresh.execute("select sum(value) from marts.indicator_values").fetchone()[0] == 5.0
    fresh.close()


def test_failed_publish_leaves_previous_file_byte_identical(tmp_path):
    work, wh = tmp_path / "work.duckdb", tmp_path / "wh.duckdb"
    make_work_db(work, [("990101", 1.0)])
    publish(work, wh)
    before = digest(wh)
    with pytest.raises(duckdb.Error):  # the working database cannot be attached
        publish(tmp_path / "missing" / "work.duckdb", wh)
    assert digest(wh) == before
    assert not list(tmp_path.glob("*wh.duckdb.tmp*"))
