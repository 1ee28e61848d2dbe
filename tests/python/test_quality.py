"""Quality gates: each check catches its violation with the right count; a blocking failure
stops publication and leaves the previous warehouse byte-identical."""

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration import duck, pipeline
from orchestration.dbt import create_empty_raw_schema
from orchestration.generate import generate
from orchestration.quality import load_catalog, run_mart_gates, run_raw_gates

FAC = ["org_code", "county_code", "category_code", "_period"]


@pytest.fixture()
def con(tmp_path):
    c = duck.connect(tmp_path / "work.duckdb")
    create_empty_raw_schema(c)
    # a small clean register and one clean row per quarterly source
    c.execute(
        "insert into raw.facilities (org_code, county_code, category_code, _period) values "
        "('H1', '990121', 'A1', '2024'), ('C1', '990121', 'C21', '2024')"
    )
    yield c
    c.close()


def insert(con, table: str, rows: list[dict]) -> None:
    df = pd.DataFrame(rows)  # noqa: F841 - read by DuckDB's replacement scan
    cols = ", ".join(rows[0])
    con.execute(f"insert into raw.{table} ({cols}) select {cols} from df")


def result(gate, check_id: str, period: str) -> dict:
    return next(r for r in gate.rows if r["check_id"] == check_id and r["period"] == period)


def visit(i, org="H1", t="2024-02-01 09:00", fee=10.0, dx="J06", period="2024Q1", valid=True):
    return dict(
        visit_id=f"v{i}",
        org_code=org,
        visit_time=pd.Timestamp(t),
        total_fee=fee,
        dx_code=dx,
        person_key=f"p{i}",
        person_key_valid=valid,
        _period=period,
    )


def settlement(i, fee=100.0, fund=60.0, flag=0, init=None, t="2024-02-01 10:00", period="2024Q1"):
    return dict(
        setl_id=f"s{i}",
        setl_time=pd.Timestamp(t),
        insu_admdvs="990121",
        fixmedins_code="H41X",
        medfee_sumamt=fee,
        hifp_pay=fund,
        refd_setl_flag=flag,
        init_setl_id=init,
        insutype="390",
        dise_codg="I10",
        person_key=f"p{i}",
        person_key_valid=True,
        _period=period,
    )


def test_catalogue_is_consistent():
    checks = load_catalog()
    assert len({c.check_id for c in checks}) == len(checks)
    assert {c.stage for c in checks} == {"raw", "mart"}
    # conformance checks that would make a wrong publication block; the others warn
    assert {c.severity for c in checks if c.category in ("completeness", "plausibility")} == {
        "warning"
    }


def test_clean_data_passes_every_check(con):
    insert(con, "outpatient_visits", [visit(i) for i in range(5)])
    insert(
        con,
        "insurance_settlements",
        [settlement(1), settlement(2, fee=-100.0, fund=-60.0, flag=1, init="s1")],
    )
    gate = run_raw_gates(con)
    assert gate.passed and not gate.warnings, gate.summary()
    assert result(gate, "R24", "2024Q1") | {} and result(gate, "R24", "2024Q1")["rows_checked"] == 1


def test_null_required_field_blocks(con):
    rows = [visit(i) for i in range(4)] + [visit(9) | {"org_code": None}]
    insert(con, "outpatient_visits", rows)
    gate = run_raw_gates(con)
    r = result(gate, "R07", "2024Q1")
    assert (r["rows_checked"], r["rows_failed"], r["status"]) == (5, 1, "failed")
    assert not gate.passed and any(b["check_id"] == "R07" for b in gate.blocking_failures)


def test_time_outside_delivered_quarter_blocks_beyond_threshold(con):
    insert(
        con,
        "outpatient_visits",
        [visit(1), visit(2, t="2024-04-01 08:00"), visit(3, t="2023-12-31 23:00")],
    )
    r = result(run_raw_gates(con), "R08", "2024Q1")
    assert (r["rows_failed"], r["status"]) == (2, "failed")


def test_unregistered_facility_blocks_but_unregistered_insurer_does_not(con):
    insert(con, "outpatient_visits", [visit(1), visit(2, org="X9")])
    insert(con, "insurance_settlements", [settlement(1) | {"fixmedins_code": "H98OUTOFPROVINCE"}])
    gate = run_raw_gates(con)
    assert result(gate, "R09", "2024Q1")["rows_failed"] == 1
    assert not any(b["source"] == "insurance_settlements" for b in gate.blocking_failures)


def test_unregistered_facilities_found_against_a_large_register(con):
    """A register larger than gx_duckdb.LARGE_SET (the anti-join path): 120 facilities, 200
    visits of which three come from two codes outside it."""
    con.execute(
        "insert into raw.facilities (org_code, county_code, category_code, _period) "
        "select 'R' || i, '990121', 'C21', '2024' from range(120) t(i)"
    )
    rows = [visit(i, org=f"R{i % 120}") for i in range(197)]
    rows += [visit(197, org="X1"), visit(198, org="X2"), visit(199, org="X2")]
    insert(con, "outpatient_visits", rows)
    r = result(run_raw_gates(con), "R09", "2024Q1")
    assert (r["rows_checked"], r["rows_failed"], r["status"]) == (200, 3, "failed")
    assert r["finding"] == "X1, X2"


def test_fund_above_total_and_wrong_signs_block(con):
    insert(
        con,
        "insurance_settlements",
        [
            settlement(1),
            settlement(2, fee=100.0, fund=150.0),  # pooled fund above total cost
            settlement(3, fee=-5.0, fund=-1.0),  # negative original
            settlement(4),
            settlement(5, fee=100.0, fund=60.0, flag=1, init="s4"),  # positive reversal
        ],
    )
    gate = run_raw_gates(con)
    assert result(gate, "R23", "2024Q1")["rows_failed"] == 1
    assert result(gate, "R22", "2024Q1")["rows_failed"] == 2


def test_reversal_of_nothing_blocks_and_earlier_quarter_original_is_found(con):
    insert(con, "insurance_settlements", [settlement(1)])
    insert(
        con,
        "insurance_settlements",
        [
            settlement(
                2, fee=-100.0, fund=-60.0, flag=1, init="s1", t="2024-05-01 10:00", period="2024Q2"
            ),
            settlement(
                3,
                fee=-100.0,
                fund=-60.0,
                flag=1,
                init="nothing",
                t="2024-05-02 10:00",
                period="2024Q2",
            ),
        ],
    )
    r = result(run_raw_gates(con), "R24", "2024Q2")
    assert (r["rows_checked"], r["rows_failed"], r["status"]) == (2, 1, "failed")


def test_warnings_do_not_block(con):
    insert(
        con,
        "outpatient_visits",
        [visit(1, org="C1"), visit(2, dx="not-icd", valid=False), visit(3)],
    )
    insert(
        con, "outpatient_visits", [visit(4, t="2024-05-01 09:00", period="2024Q2")]
    )  # C1 stopped delivering
    insert(
        con, "insurance_settlements", [settlement(1) | {"insutype": "999", "insu_admdvs": "99012"}]
    )
    gate = run_raw_gates(con)
    assert gate.passed, gate.summary()
    warned = {(w["check_id"], w["period"], w["rows_failed"]) for w in gate.warnings}
    assert {
        ("R11", "2024Q1", 1),
        ("R13", "2024Q1", 1),
        ("R12", "2024Q2", 1),
        ("R25", "2024Q1", 1),
        ("R26", "2024Q1", 1),
    } <= warned


def test_findings_name_what_failed_without_identifiers(con):
    """Warnings say what was found: the facilities that stopped delivering (first five, then
    how many more), the codes that failed, and for person-level checks only file:line."""
    con.execute(
        "insert into raw.facilities (org_code, org_name, county_code, category_code, _period) "
        "select 'F' || lpad(cast(i as varchar), 2, '0'), '卫生院' || i, '990121', 'C21', '2024' "
        "from range(1, 8) t(i)"
    )
    q1 = [visit(i, org=f"F{i:02d}") for i in range(1, 8)] + [visit(8)]
    insert(
        con,
        "outpatient_visits",
        [v | {"_file": "q1.csv", "_line": n + 2} for n, v in enumerate(q1)],
    )
    q2 = [
        visit(20, t="2024-05-01 09:00", period="2024Q2"),
        visit(21, t="2024-05-01 09:00", period="2024Q2", dx="bad1", valid=False),
        visit(22, t="2024-05-01 09:00", period="2024Q2", dx="bad2"),
        visit(23, t="2024-05-01 09:00", period="2024Q2", dx="bad1"),
    ]
    insert(
        con,
        "outpatient_visits",
        [v | {"_file": "q2.csv", "_line": n + 2} for n, v in enumerate(q2)],
    )
    gate = run_raw_gates(con)
    # 8 facilities delivered in Q1, only H1 in Q2: F01..F07 stopped, the first five are named
    r12 = result(gate, "R12", "2024Q2")
    assert (r12["rows_checked"], r12["rows_failed"]) == (8, 7)
    assert (
        r12["finding"]
        == "F01 卫生院1, F02 卫生院2, F03 卫生院3, F04 卫生院4, F05 卫生院5 and 2 more"
    )
    assert "R12 outpatient_visits 2024Q2: 7 of 8 rows failed" in gate.summary()
    assert "F01 卫生院1" in gate.summary()
    r11 = result(gate, "R11", "2024Q2")  # two distinct bad diagnosis codes in three rows
    assert (r11["rows_failed"], r11["finding"]) == (3, "bad1, bad2")
    r13 = result(gate, "R13", "2024Q2")  # an invalid ID: its line, never its key
    assert (r13["rows_failed"], r13["finding"]) == (1, "q2.csv:3")
    assert result(gate, "R07", "2024Q1")["finding"] == ""  # nothing failed
    stored = con.execute(
        "select finding from raw.dq_results where check_id = 'R13' and period = '2024Q2'"
    )
    assert stored.fetchone()[0] == "q2.csv:3"
    assert not con.execute(
        "select count(*) from raw.dq_results where finding like '%p2%'"
    ).fetchone()[0]


def test_results_of_other_periods_are_kept_and_refreshed_period_replaced(con):
    insert(con, "outpatient_visits", [visit(1, org=None)])
    run_raw_gates(con)
    insert(con, "outpatient_visits", [visit(2, t="2024-05-01 09:00", period="2024Q2")])
    gate = run_raw_gates(con, periods={"2024Q2"})
    assert gate.rows and {r["period"] for r in gate.rows} == {"2024Q2"}  # only Q2 measured
    # the Q1 failure is still outstanding though only Q2 was re-checked
    assert [(b["check_id"], b["period"]) for b in gate.blocking_failures] == [("R07", "2024Q1")]


def test_mart_checks(con):
    con.execute("create schema marts")
    con.execute("""create table marts.indicator_values as select * from (values
        ('county', '990121', '2023', 2023, null, 'I07', 'ratio', 0.60),
        ('county', '990121', '2024', 2024, null, 'I07', 'ratio', 1.20),
        ('county', '990121', '2024', 2024, null, 'I08', 'ratio', null),
        ('county', '990121', '2024', 2024, null, 'I10a', 'yuan', 7000.0)
    ) as t(area_level, area_code, period, year, quarter, indicator_code, unit, value)""")
    gate = run_mart_gates(con)
    assert gate.passed
    assert result(gate, "M01", "2024")["rows_failed"] == 1  # a ratio above 1
    assert result(gate, "M02", "2024")["rows_failed"] == 1  # 0.6 -> 1.2 doubles
    assert result(gate, "M01", "2024")["finding"] == "I07 990121 = 1.2"
    assert result(gate, "M02", "2024")["finding"] == "I07 990121 0.6 → 1.2"
    r = result(gate, "M03", "2024")
    assert (r["rows_checked"], r["rows_failed"], r["finding"]) == (3, 1, "I08 990121")


# ---- the publication gate, end to end -------------------------------------------------


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    landing = root / "landing"
    generate(landing, counties=2, years=(2024,), scale=0.02, seed=5, progress=None)
    warehouse = root / "warehouse.duckdb"
    pipeline.run(landing, warehouse, progress=lambda m: None)
    return landing, warehouse


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_blocking_failure_refuses_publication_and_keeps_old_warehouse(published, tmp_path):
    landing, warehouse = published
    before = digest(warehouse)
    broken = tmp_path / "landing"
    shutil.copytree(landing, broken)
    # a delivery whose pooled fund exceeds the total cost: an amount that cannot be true
    folder = broken / "insurance_settlements" / "2024Q3"
    pd.DataFrame(
        [
            {
                "setl_id": "BROKEN1",
                "mdtrt_id": "M1",
                "psn_no": "P1",
                "certno": "990121199001011234",
                "gend": "1",
                "brdy": "1990-01-01",
                "insutype": "390",
                "med_type": "21",
                "insu_admdvs": "990121",
                "mdtrtarea_admdvs": "990121",
                "fixmedins_code": "H99",
                "fixmedins_name": "x",
                "fixmedins_type": "1",
                "begndate": "2024-08-01",
                "enddate": "2024-08-05",
                "setl_time": "2024-08-05 10:00:00",
                "dise_codg": "I10",
                "medfee_sumamt": "100.00",
                "hifp_pay": "900.00",
                "fund_pay_sumamt": "900.00",
                "acct_pay": "0",
                "psn_cash_pay": "0",
                "refd_setl_flag": "0",
                "init_setl_id": "",
            }
        ]
    ).to_csv(folder / "extra.csv", index=False)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestration.cli",
            "run",
            "--landing",
            str(broken),
            "--warehouse",
            str(warehouse),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2, out.stderr[-2000:]
    assert "R23" in out.stderr and "blocking" in out.stderr and "untouched" in out.stderr
    assert digest(warehouse) == before


def test_published_warehouse_has_the_quality_page_and_findings(published):
    _, warehouse = published
    page = warehouse.with_name(f"{warehouse.stem}_quality.html")
    html = page.read_text(encoding="utf-8")
    assert not warehouse.with_name(
        f"{warehouse.stem}_data_docs"
    ).exists()  # GE docs stay in the work folder
    assert "cdn" not in html.lower() and not re.search(r"(?i)(src|href)=\"(https?:)?//", html)
    con = duck.connect(warehouse, read_only=True)
    try:
        rows = con.execute(
            "select check_id, period, rows_failed, finding, status from marts.data_quality"
        ).fetchall()
    finally:
        con.close()
    assert rows and all(f is not None for *_, f, _ in rows)
    for check_id, period, failed, finding, _status in rows:
        # every check that found a failing row says what it found; a clean one says nothing
        assert bool(finding) == bool(failed), (check_id, period, failed, finding)
        assert not re.search(r"\d{17}[\dXx]", finding)  # never a 身份证号
        assert f"<td><b>{check_id}</b>" in html


# ---- Great Expectations validates the tables itself ------------------------------------


def test_catalogue_names_the_expectation_each_rule_maps_to():
    import csv

    from orchestration.quality.catalog import CATALOG_PATH
    from orchestration.quality.expectations import SQL_ONLY, plan
    from orchestration.quality.rules import RULES

    with CATALOG_PATH.open(encoding="utf-8", newline="") as fh:
        declared = {r["check_id"]: r["expectation"] for r in csv.DictReader(fh)}
    for check in load_catalog():
        built = plan(check)
        if built is None:
            assert declared[check.check_id] == "sql" and check.rule in RULES
            assert check.rule in SQL_ONLY
        else:
            assert {e.expectation_type for e in built.expectations} == {declared[check.check_id]}, (
                check.check_id
            )
            assert all(e.mostly == 1 - check.threshold for e in built.expectations if e.mostly)


def test_duplicate_keys_in_a_delivery_block(con):
    # 5 visits; v2 delivered three times in Q1 (3 rows share a key), once more in Q2 (its own
    # delivery: no duplicate there)
    rows = [visit(i) for i in range(5)] + [visit(2), visit(2)]
    insert(con, "outpatient_visits", rows + [visit(2, t="2024-05-01 09:00", period="2024Q2")])
    gate = run_raw_gates(con)
    r = result(gate, "R37", "2024Q1")
    assert (r["rows_checked"], r["rows_failed"], r["status"]) == (7, 3, "failed")
    assert r["finding"] == "H1/v2"
    assert result(gate, "R37", "2024Q2")["status"] == "passed"
    assert any(b["check_id"] == "R37" for b in gate.blocking_failures)


def test_ge_suites_hold_ge_expectations_and_its_data_docs_work_offline(con, tmp_path):
    import json

    insert(con, "outpatient_visits", [visit(1), visit(2, org="X9", dx="bad")])
    project = tmp_path / "gx_project" / "gx"  # beside the working database
    old = [project / d / "raw_gates.json" for d in ("expectations", "checkpoints")]
    for f in old:  # what the gates over a frame of counts left in a working GE project
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("{}")
    run_raw_gates(con)
    assert not any(f.exists() for f in old)
    suite = json.loads((project / "expectations" / "raw_outpatient_visits.json").read_text())
    kinds = {e["type"] for e in suite["expectations"]}
    assert {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_compound_columns_to_be_unique",
    } <= kinds
    site = project / "uncommitted" / "data_docs" / "local_site"
    pages = list(site.rglob("*.html"))
    assert len(pages) > 1 and (site / "index.html").exists()
    for page in pages:
        html = page.read_text(encoding="utf-8")
        # nothing is fetched from the web (plain links to GE's site may stay)
        assert not re.search(r"(?i)(<link[^>]*href|src)=\"(https?:)?//", html), page
        assert "great-expectations-web-assets" not in html
    # a run of the same period replaces its stored result: the docs show the latest run only
    run_raw_gates(con)
    results = list(
        (project / "uncommitted" / "validations").rglob(
            "*raw_outpatient_visits-_period_2024Q1.json"
        )
    )
    assert len(results) == 1
    # no connection of GE's outlives the gates: once the gates' connection closes, the file
    # opens with another configuration (as dbt and publish open it)
    con.close()
    duckdb.connect(str(tmp_path / "work.duckdb"), config={"threads": 1}).close()
