"""An incremental quarterly refresh publishes the same indicators as a full rebuild.

Two working databases over the same generated year: one is always rebuilt in full; the other
is built on Q1-Q3 and then refreshed incrementally as deliveries arrive (Q4 new, then Q2
re-delivered with a facility file withdrawn). After each refresh both must hold the same
indicator values and the same incremental intermediate tables. A last step proves the
refresh really keeps the periods it was not asked to recompute.
"""

import shutil

import pandas as pd
import pytest

from orchestration import duck, pipeline
from orchestration.generate import generate

pytestmark = pytest.mark.slow

YEAR = 2024
INCREMENTAL_MODELS = (
    "int_visits__by_facility",
    "int_visits__daily",
    "int_settlements__by_facility",
    "int_settlements__daily",
)
quiet = lambda m: None  # noqa: E731


def _land_and_build(landing, work_db, period, incremental):
    pipeline.land_step(landing, work_db, pipeline.periods_for(period), quiet)
    pipeline.dbt_step(work_db, quiet, incremental=incremental)


def _table(work_db, sql):
    con = duck.connect(work_db, read_only=True)
    try:
        df = con.execute(sql).df()
    finally:
        con.close()
    return df.sort_values(list(df.columns[:4])).reset_index(drop=True)


def _values(work_db):
    return _table(
        work_db,
        "select area_level, area_code, period, indicator_code, numerator, denominator, "
        "value, status from marts.indicator_values",
    )


def _assert_same(full_db, inc_db):
    pd.testing.assert_frame_equal(_values(full_db), _values(inc_db), check_exact=False, rtol=1e-12)
    for model in INCREMENTAL_MODELS:
        sql = f"select * from intermediate.{model}"
        full, inc = _table(full_db, sql), _table(inc_db, sql)
        full = full.sort_values(list(full.columns)).reset_index(drop=True)
        inc = inc.sort_values(list(inc.columns)).reset_index(drop=True)
        pd.testing.assert_frame_equal(full, inc, check_exact=False, rtol=1e-12, obj=model)


def _scalar(work_db, sql):
    con = duck.connect(work_db, read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def _last_refresh(work_db):
    """The refresh_periods of the last successful build (JSON list; None = everything)."""
    return _scalar(
        work_db, "select refresh_periods from raw.dbt_builds order by started_at desc limit 1"
    )


@pytest.fixture(scope="module")
def landings(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    full = root / "landing"
    generate(full, counties=2, years=(YEAR,), scale=0.03, seed=23, progress=quiet)
    partial = root / "partial"
    shutil.copytree(full, partial, ignore=shutil.ignore_patterns(f"{YEAR}Q4"))
    return root, full, partial


def test_incremental_refresh_equals_full_rebuild(landings):
    root, full_landing, partial = landings
    full_db, inc_db = root / "full.work.duckdb", root / "inc.work.duckdb"

    # Q1-Q3: the first build of a database is always complete
    _land_and_build(partial, inc_db, None, incremental=True)
    assert _last_refresh(inc_db) is None

    # Q4 arrives: only its deliveries are recomputed
    for source_dir in full_landing.iterdir():
        if (source_dir / f"{YEAR}Q4").is_dir():
            shutil.copytree(source_dir / f"{YEAR}Q4", partial / source_dir.name / f"{YEAR}Q4")
    _land_and_build(partial, inc_db, f"{YEAR}Q4", incremental=True)
    assert _last_refresh(inc_db) == f'["{YEAR}Q4"]'
    _land_and_build(full_landing, full_db, None, incremental=False)
    _assert_same(full_db, inc_db)
    before = _values(full_db)

    # Q2 re-delivered without one facility's visit file: that period alone is recomputed
    visit_files = sorted((full_landing / "outpatient_visits" / f"{YEAR}Q2").iterdir())
    assert len(visit_files) > 1
    for landing in (full_landing, partial):
        (landing / "outpatient_visits" / f"{YEAR}Q2" / visit_files[0].name).unlink()
    _land_and_build(partial, inc_db, f"{YEAR}Q2", incremental=True)
    assert _last_refresh(inc_db) == f'["{YEAR}Q2"]'
    _land_and_build(full_landing, full_db, None, incremental=False)
    after = _values(full_db)
    i07 = after.indicator_code == "I07"
    assert (before[i07].denominator != after[i07].denominator).any(), (
        "withdrawing a visit file must change I07's denominator, or this test proves nothing"
    )
    _assert_same(full_db, inc_db)


def test_refresh_keeps_periods_it_was_not_asked_to_recompute(landings):
    root, _, partial = landings
    inc_db = root / "inc.work.duckdb"
    # a marker row in Q1 (an unknown county, ignored downstream): recomputing Q1 would erase it
    con = duck.connect(inc_db)
    con.execute(
        f"insert into intermediate.int_visits__daily (_period, county_code, visit_date, visits) "
        f"values ('{YEAR}Q1', 'MARKER', date '{YEAR}-01-01', 1)"
    )
    con.close()
    marker = "select count(*) from intermediate.int_visits__daily where county_code = 'MARKER'"

    builds = "select count(*) from raw.dbt_builds"
    n = _scalar(inc_db, builds)
    # nothing new landed: the no-op refresh skips dbt altogether (no build recorded)
    assert pipeline.dbt_step(inc_db, quiet, incremental=True) is None
    assert _scalar(inc_db, builds) == n
    assert _scalar(inc_db, marker) == 1

    # Q4's visits re-landed: Q4 alone is recomputed, Q1 (and its marker) is kept
    pipeline.land_step(
        partial, inc_db, {f"{YEAR}Q4"}, quiet, force=True, sources={"outpatient_visits"}
    )
    assert pipeline.dbt_step(inc_db, quiet, incremental=True) is not None
    assert _last_refresh(inc_db) == f'["{YEAR}Q4"]'
    assert _scalar(inc_db, marker) == 1

    pipeline.dbt_step(inc_db, quiet, incremental=False)  # a full build recomputes every period
    assert _scalar(inc_db, marker) == 0
