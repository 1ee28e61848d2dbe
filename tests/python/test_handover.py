"""The raw hand-over: raw tables as Parquet partitioned by period, one sender's files replaced
without touching another's. (Spark reading it is proven by `make test-spark`.)"""

import datetime as dt

import pytest

from orchestration import duck, handover
from orchestration.dbt import create_empty_raw_schema


def _raw_db(tmp_path, visits):
    con = duck.connect(tmp_path / "work.duckdb")
    create_empty_raw_schema(con)
    for visit_id, period in visits:
        con.execute(
            "insert into raw.outpatient_visits (visit_id, org_code, visit_time, _period, _file, _line) "
            "values (?, 'H1', ?, ?, 'f.csv', 2)",
            [visit_id, dt.datetime(2024, 3, 31, 23, 30), period],
        )
    con.execute(
        "insert into raw.load_audit (source, period, file, rows_read) values "
        "('outpatient_visits', '2024Q1', 'f.csv', 2)"
    )
    return con


def _read(con, root, table="outpatient_visits"):
    return sorted(
        con.execute(
            f"select visit_id, _period, visit_time from read_parquet("
            f"{duck.lit(str(root / table / '*' / '*.parquet'))}, hive_partitioning = true)"
        ).fetchall()
    )


def test_export_partitions_by_period_and_keeps_every_row(tmp_path):
    con = _raw_db(tmp_path, [("v1", "2024Q1"), ("v2", "2024Q1"), ("v3", "2024Q2")])
    root = tmp_path / "handover"
    written = handover.export_raw(con, root, prefix="p99")
    assert written["outpatient_visits"] == 3 and written["load_audit"] == 1
    assert written["facilities"] == 0
    assert sorted(p.name for p in (root / "outpatient_visits").iterdir()) == [
        "_period=2024Q1",
        "_period=2024Q2",
    ]
    assert [p.name for p in (root / "outpatient_visits" / "_period=2024Q1").iterdir()] == [
        "p99_0.parquet"
    ]
    # the partition column lives in the folder name only, timestamps stay as landed
    part_file = root / "outpatient_visits" / "_period=2024Q1" / "p99_0.parquet"
    cols = [
        r[0]
        for r in con.execute(
            f"select name from parquet_schema({duck.lit(str(part_file))})"
        ).fetchall()
    ]
    assert "_period" not in cols and "visit_id" in cols
    ts = dt.datetime(2024, 3, 31, 23, 30)
    assert _read(con, root) == [("v1", "2024Q1", ts), ("v2", "2024Q1", ts), ("v3", "2024Q2", ts)]
    assert (root / "load_audit" / "p99.parquet").exists()


def test_re_export_replaces_only_the_senders_own_files(tmp_path):
    root = tmp_path / "handover"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _raw_db(tmp_path / "a", [("a1", "2024Q1"), ("a2", "2024Q2")])
    handover.export_raw(first, root, prefix="p41")
    other = _raw_db(tmp_path / "b", [("b1", "2024Q1")])
    handover.export_raw(other, root, prefix="p42")
    # province 41 re-sends: only 2024Q1 now, with one row changed
    first.execute("delete from raw.outpatient_visits")
    first.execute("insert into raw.outpatient_visits (visit_id, _period) values ('a9', '2024Q1')")
    handover.export_raw(first, root, prefix="p41")
    assert [r[:2] for r in _read(first, root)] == [("a9", "2024Q1"), ("b1", "2024Q1")]
    assert not (root / "outpatient_visits" / "_period=2024Q2").exists()


def test_bad_prefix_and_missing_raw_tables_are_refused(tmp_path):
    con = _raw_db(tmp_path, [])
    with pytest.raises(ValueError, match="prefix"):
        handover.export_raw(con, tmp_path / "h", prefix="../x")
    con.execute("drop table raw.dq_results")
    with pytest.raises(LookupError, match="dq_results"):
        handover.export_raw(con, tmp_path / "h")
