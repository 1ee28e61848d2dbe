"""Great Expectations on DuckDB: the upstream behaviour each patch in orchestration/quality/
gx_duckdb.py works around (these tests fail once upstream fixes it: then drop the patch), and
GE's own expectations giving hand-counted results through the patched path."""

import os

import pytest
import sqlalchemy as sa

from orchestration import duck
from orchestration.quality import gx_duckdb

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture()
def db(tmp_path):
    """1,000 visits; planted: 3 without a facility, 3 with a code outside the set, 3 diagnoses
    that are not ICD-10, 3 negative fees, 3 rows repeating another row's key."""
    path = tmp_path / "t.duckdb"
    con = duck.connect(path)
    con.execute("""
        create schema raw;
        create table raw.visits as
        select 'v' || i as visit_id,
               case when i in (10, 20, 30) then null else 'H1' end as org_code,
               case when i in (40, 50, 60) then '999' else '390' end as insutype,
               case when i in (70, 80, 90) then 'x1' else 'J06' end as dx_code,
               case when i in (100, 200, 300) then -1.0 else 10.0 end as total_fee,
               '2024Q1' as _period, 'f.csv' as _file, i + 2 as _line
        from range(1000) t(i);
        update raw.visits set visit_id = 'v1' where _line in (500, 600, 700);
    """)
    yield path, con
    con.close()


def test_upstream_duckdb_engine_drops_rows_when_the_connection_closes(db):
    """Why execute_query is patched: GE fetches after `with engine.connect()` has closed."""
    path, _ = db
    engine = sa.create_engine(gx_duckdb.connection_string(path), **gx_duckdb.engine_kwargs())
    gx_duckdb.install()  # the user-agent patch lets this process open the file a second time
    try:
        with engine.connect() as connection:
            result = connection.execute(sa.text("select count(*) from raw.visits"))
        assert result.fetchall() == []  # upstream: the rows are gone
        with engine.connect() as connection:
            buffered = connection.execute(sa.text("select count(*) from raw.visits")).freeze()
        assert buffered().fetchall() == [(1000,)]
    finally:
        engine.dispose()


def test_upstream_ge_has_no_regex_for_duckdb(db):
    """Why the regex expression is patched: GE's own function returns None for DuckDB."""
    from great_expectations.expectations.metrics import util

    gx_duckdb.install()
    engine = sa.create_engine("duckdb:///:memory:")
    upstream = getattr(util.get_dialect_regex_expression, "upstream", None)
    assert upstream is not None
    assert upstream(sa.column("dx_code"), "^[A-Z]", engine.dialect) is None
    patched = util.get_dialect_regex_expression(sa.column("dx_code"), "^[A-Z]", engine.dialect)
    assert "regexp_matches" in str(patched.compile(dialect=engine.dialect))


def test_upstream_duckdb_engine_user_agent_refuses_a_second_connection(db, monkeypatch):
    """Why the user agent is turned off: DuckDB refuses a same-file connection whose config
    differs, and duckdb-engine adds one to every connection's config."""
    import duckdb_engine

    path, _ = db
    monkeypatch.setattr(duckdb_engine, "supports_user_agent", True)
    engine = sa.create_engine(gx_duckdb.connection_string(path), **gx_duckdb.engine_kwargs())
    with pytest.raises(sa.exc.OperationalError, match="different configuration"):
        engine.connect()
    engine.dispose()


def test_ge_expectations_count_planted_rows_inside_duckdb(db):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    path, _ = db
    gx_duckdb.install()
    ctx = gx.get_context(mode="ephemeral")
    source = ctx.data_sources.add_sql(
        "w", connection_string=gx_duckdb.connection_string(path), kwargs=gx_duckdb.engine_kwargs()
    )
    batch = (
        source.add_query_asset("q1", query="select * from raw.visits where _period = '2024Q1'")
        .add_batch_definition_whole_table("all")
        .get_batch()
    )
    fmt = {"result_format": "SUMMARY", "unexpected_index_column_names": ["_file", "_line"]}
    try:
        cases = [
            (gxe.ExpectColumnValuesToNotBeNull(column="org_code"), 3),
            (gxe.ExpectColumnValuesToBeInSet(column="insutype", value_set=["390"]), 3),
            (gxe.ExpectColumnValuesToMatchRegex(column="dx_code", regex="^[A-Z][0-9]{2}"), 3),
            (gxe.ExpectColumnValuesToBeBetween(column="total_fee", min_value=0), 3),
            # v1 now on four rows: each of the four is a duplicate
            (gxe.ExpectCompoundColumnsToBeUnique(column_list=["visit_id", "_period"]), 4),
        ]
        for expectation, planted in cases:
            r = batch.validate(expectation, result_format=fmt)
            assert not r.success and r.result["unexpected_count"] == planted, expectation
        # mostly: 3 of 1,000 failing passes at a tolerated share of 0.003, not at 0.002
        ok = gxe.ExpectColumnValuesToNotBeNull(column="org_code", mostly=1 - 0.003)
        assert batch.validate(ok).success
        strict = gxe.ExpectColumnValuesToNotBeNull(column="org_code", mostly=1 - 0.002)
        assert not batch.validate(strict).success
        regex = batch.validate(cases[2][0], result_format=fmt).result
        assert sorted(regex["partial_unexpected_list"]) == ["x1", "x1", "x1"]
        lines = batch.validate(cases[0][0], result_format=fmt).result
        assert sorted(f["_line"] for f in lines["partial_unexpected_index_list"]) == [12, 22, 32]
        count = batch.validate(gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value=999))
        assert (count.success, count.result["observed_value"]) == (False, 1000)
    finally:
        source.get_engine().dispose()


def test_upstream_duckdb_tests_a_large_not_in_constant_by_constant(db):
    """Why a large NOT IN is compiled as a subquery: DuckDB plans `x IN (<many constants>)` as
    a join but `x NOT IN (...)` as a filter over the constants (1.2 s a county's quarter of
    visits against 2,093 facility codes, 0.02 s as an anti-join)."""
    _, con = db
    many = ", ".join(f"'H{i}'" for i in range(gx_duckdb.LARGE_SET))
    plan_in = con.execute(f"explain select * from raw.visits where org_code in ({many})").fetchall()
    plan_not_in = con.execute(
        f"explain select * from raw.visits where org_code not in ({many})"
    ).fetchall()
    assert "JOIN" in plan_in[0][1]
    assert "JOIN" not in plan_not_in[0][1]  # upstream: no join for the negation


def test_large_not_in_compiles_to_the_same_test_as_an_anti_join(db):
    """The patched compiler: a large set becomes `NOT IN (SELECT unnest([...]))`, which DuckDB
    plans as a join, and selects the rows NOT IN selects, NULLs included (a NULL value, and a
    NULL in the set, make the test unknown, so the row is not selected)."""
    path, con = db
    gx_duckdb.install()
    engine = sa.create_engine(gx_duckdb.connection_string(path), **gx_duckdb.engine_kwargs())
    visits = sa.table("visits", sa.column("_line"), sa.column("org_code"), schema="raw")
    con.execute(
        "update raw.visits set org_code = 'H' || (_line % 100) where _line < 400 and org_code is not null"
    )
    # 64 codes: H2..H65; rows with org_code H1 (other rows) or H66..H99 are outside the set
    large = [f"H{i}" for i in range(2, 2 + gx_duckdb.LARGE_SET)]
    try:
        for values in (large, large + [None]):
            query = sa.select(visits.c._line).where(visits.c.org_code.not_in(values))
            sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
            assert "NOT IN (SELECT unnest([" in sql
            with engine.connect() as connection:
                got = sorted(r[0] for r in connection.execute(query).freeze()().fetchall())
            listed = ", ".join("null" if v is None else f"'{v}'" for v in values)
            expected = sorted(
                r[0]
                for r in con.execute(
                    f"select _line from raw.visits where org_code not in ({listed})"
                ).fetchall()
            )
            assert got == expected
            # worked out by hand: lines 2..399 hold H(line % 100); H0, H1 and H66..H99 are
            # outside the set (36 of each 100 residues), lines 10/20/30 are NULL; lines >= 400
            # keep H1 -- all of them selected, unless the set holds a NULL
            residues_out = [r for r in range(100) if not 2 <= r < 2 + gx_duckdb.LARGE_SET]
            by_hand = [
                line
                for line in range(2, 1002)
                if line not in (12, 22, 32)  # the planted NULL facilities (i = 10, 20, 30)
                and (line >= 400 or line % 100 in residues_out)
            ]
            assert got == ([] if None in values else by_hand)
        small = sa.select(visits.c._line).where(visits.c.org_code.not_in(["H1"]))
        assert "NOT IN (SELECT" not in str(small.compile(engine))
    finally:
        engine.dispose()


def _count_serialisations(monkeypatch):
    """Counts the pydantic serialisations of expectations (below the patch, if installed)."""
    from great_expectations.expectations.expectation import Expectation

    calls = []
    patched = Expectation.dict
    pydantic_dict = getattr(patched, "upstream", patched)

    def counted(self, **kwargs):
        calls.append(kwargs)
        return pydantic_dict(self, **kwargs)

    if patched is pydantic_dict:
        monkeypatch.setattr(Expectation, "dict", counted)
    else:
        monkeypatch.setattr(Expectation, "dict", gx_duckdb.serialise_once(counted))
    return calls


def test_upstream_ge_serialises_an_expectation_at_every_configuration_read(monkeypatch):
    """Why expectations are serialised once inside the gates: each read of `configuration`
    serialises the expectation again (a validation reads it ~70 times per expectation)."""
    import great_expectations.expectations as gxe

    gx_duckdb.install()
    calls = _count_serialisations(monkeypatch)
    e = gxe.ExpectColumnValuesToBeInSet(column="insutype", value_set=["390", "310"])
    first, second = e.configuration, e.configuration
    assert first is not second and first.kwargs == second.kwargs
    assert len(calls) == 2  # outside serialised_once: upstream, every time


def test_serialised_once_hands_out_copies_and_forgets_on_assignment(monkeypatch):
    import great_expectations.expectations as gxe

    gx_duckdb.install()
    calls = _count_serialisations(monkeypatch)
    e = gxe.ExpectColumnValuesToBeInSet(
        column="insutype", value_set=["390", "310"], meta={"check_id": "R1"}
    )
    with gx_duckdb.serialised_once():
        first = e.configuration
        first.kwargs["value_set"].append("999")  # a caller changing what it was given
        first.meta["check_id"] = "changed"
        second = e.configuration
        assert len(calls) == 1
        assert second.kwargs["value_set"] == ["390", "310"] and second.meta == {"check_id": "R1"}
        e.column = "org_code"  # an assignment: serialised again
        assert e.configuration.kwargs["column"] == "org_code" and len(calls) == 2
    assert e.configuration.kwargs["column"] == "org_code" and len(calls) == 3


def test_serialised_once_validates_each_run_with_its_own_parameters(db):
    """One suite, two runs with different `$PARAMETER` values inside one `serialised_once`, as
    the gates run a batch per period: each run counts against its own values."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    path, _ = db
    gx_duckdb.install()
    ctx = gx.get_context(mode="ephemeral")
    source = ctx.data_sources.add_sql(
        "w", connection_string=gx_duckdb.connection_string(path), kwargs=gx_duckdb.engine_kwargs()
    )
    batch = source.add_query_asset("q", query="select * from raw.visits").add_batch_definition(
        "all"
    )
    suite = ctx.suites.add(
        gx.ExpectationSuite(
            "s",
            expectations=[
                gxe.ExpectColumnValuesToBeInSet(
                    column="insutype", value_set={"$PARAMETER": "codes"}
                )
            ],
        )
    )
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite))
    try:
        with gx_duckdb.serialised_once():
            # 997 rows hold 390, the 3 planted ones 999 (worked out from the fixture)
            runs = [(["390"], 3), (["999"], 997), (["390", "999"], 0)]
            for codes, failing in runs:
                result = vd.run(expectation_parameters={"codes": codes}).results[0]
                assert result.result["unexpected_count"] == failing, codes
    finally:
        source.get_engine().dispose()
