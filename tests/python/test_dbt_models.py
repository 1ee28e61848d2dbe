"""dbt models on real DuckDB: a tiny hand-made raw dataset, `dbt build` (seeds, models, unit
tests, data tests) through orchestration.dbt, and hand-computed indicator values.

The dataset (province 99, city 990100, counties 990101 "A" and 990102 "B"; years 2023-2024;
quarters 2023Q2, 2024Q1, 2024Q2) is small enough to check every number by hand; the comments
next to each expected value show the arithmetic.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from raw_rows import insert_raw, raw_facility

from orchestration import catalogue, contract, dbt
from orchestration.settings import PROJECT_DIR

A, B, CITY, PROV, NAT = "990101", "990102", "990100", "990000", "000000"


# ----------------------------------------------------------------------------- one definition


def test_committed_sources_yml_is_rendered_from_the_contract():
    committed = (PROJECT_DIR / "models" / "staging" / "_sources.yml").read_text(encoding="utf-8")
    assert committed == dbt.render_sources_yml(), (
        "models/staging/_sources.yml differs from contract.py; regenerate it with "
        "`python -c 'from orchestration import dbt; dbt.write_sources_yml()'`"
    )


def test_one_staging_model_per_raw_table():
    staging = PROJECT_DIR / "models" / "staging"
    for source in contract.SOURCES:
        sql = (staging / f"{source.staging_model}.sql").read_text()
        assert f"source('raw', '{source.name}')" in sql


def test_parameter_doc_lists_every_var_with_its_default():
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    with open(PROJECT_DIR / "seeds" / "parameters.csv", encoding="utf-8") as f:
        doc = {r["parameter"]: r for r in csv.DictReader(f) if r["kind"] == "var"}
    assert set(doc) == set(project["vars"]), "seeds/parameters.csv and dbt_project.yml vars differ"
    for name, value in project["vars"].items():
        expected = "|".join(map(str, value)) if isinstance(value, list) else str(value).lower()
        assert doc[name]["default_value"].lower() == expected.lower(), name


def test_dbt_vars_overrides(monkeypatch):
    monkeypatch.setenv("YGT_DBT_VARS", '{"min_dispatch_days": 183}')
    assert dbt.dbt_vars({"pooled_fund_column": "fund_pay_sumamt"}) == {
        "min_dispatch_days": 183,
        "pooled_fund_column": "fund_pay_sumamt",
    }
    env = dbt.dbt_env(Path("/tmp/x.duckdb"))
    assert env["YGT_DUCKDB_PATH"] == "/tmp/x.duckdb" and env["DBT_PROFILES_DIR"] == str(PROJECT_DIR)


# ----------------------------------------------------------------------------- tiny dataset


def _facilities():
    def fac(org, fix, county, cat, level=None, **kw):
        return raw_facility(org, cat, county, fixmedins_code=fix, hospital_level=level, **kw)

    return [
        fac(
            "A-H1",
            "HA1",
            A,
            "A1",
            "3",
            consortium_code="CA",
            is_lead_hospital=1,
            is_imaging_center=1,
            is_ecg_center=1,
        ),
        fac("A-T1", "HA2", A, "A2", "2"),
        fac("A-C1", "HA3", A, "C22", "1", consortium_code="CA"),
        fac("A-V1", None, A, "D5", has_ecg_device=1, ecg_linked_to_center=1),
        fac("A-V2", None, A, "D5", has_ecg_device=1, ecg_linked_to_center=0),
        fac("A-V3", None, A, "D5", has_ecg_device=1, ecg_linked_to_center=1, active=0),
        fac("A-P1", "PA1", A, "P1", ownership="private"),
        fac("A-J1", None, A, "J1"),
        fac("B-H1", "HB1", B, "A1", "2", consortium_code="CB", is_lead_hospital=1),
        fac("B-C1", "HB2", B, "B1", consortium_code="CB"),
    ]


def _population(county: str, year: int, per_group_per_sex: int, infants: int):
    rows = [dict(county_code=county, year=year, sex="1", age_group="0", population=infants)]
    if per_group_per_sex:
        for a in range(30, 70, 5):
            for sex in "12":
                rows.append(
                    dict(
                        county_code=county,
                        year=year,
                        sex=sex,
                        age_group=f"{a}-{a + 4}",
                        population=per_group_per_sex,
                    )
                )
    return rows


def _visits():
    def v(i, org, when, dept="03", cancel=0):
        return dict(
            visit_id=f"v{i}",
            org_code=org,
            dept_code=dept,
            visit_time=dt.datetime.fromisoformat(when),
            visit_type="outpatient",
            cancel_flag=cancel,
            person_key=f"p{i}",
            person_key_valid=True,
            sex="1",
        )

    q1 = [
        v(1, "A-H1", "2024-01-05 09:00"),
        v(2, "A-H1", "2024-02-05 09:00"),
        v(3, "A-H1", "2024-02-06 09:00", cancel=1),  # cancelled registration: not a visit
        v(4, "A-H1", "2024-03-01 10:00", dept="50"),  # TCM department of a general hospital
        v(5, "A-T1", "2024-03-02 10:00"),  # TCM hospital
        v(6, "A-C1", "2024-01-10 08:00"),
        v(7, "A-C1", "2024-03-31 23:59"),
        v(8, "A-P1", "2024-02-01 08:00"),
        v(9, "A-J1", "2024-02-01 08:00"),  # not counted
        v(10, "B-C1", "2024-02-01 08:00"),
        v(11, "B-H1", "2024-02-01 08:00"),
    ]
    q2 = [v(12, "A-C1", "2024-04-01 00:00")]
    return q1, q2


def _settlements():
    def s(
        sid,
        county,
        med_type,
        fix,
        when,
        cost,
        fund,
        person="pX",
        dx="I10",
        ftype="2" if False else "1",
        refd=0,
        init=None,
    ):
        return dict(
            setl_id=sid,
            mdtrt_id="m" + sid,
            psn_key="k" + person,
            person_key=person,
            person_key_valid=True,
            gend="1",
            insutype="390",
            med_type=med_type,
            insu_admdvs=county,
            mdtrtarea_admdvs=county,
            fixmedins_code=fix,
            fixmedins_type=ftype,
            setl_time=dt.datetime.fromisoformat(when),
            dise_codg=dx,
            medfee_sumamt=cost,
            hifp_pay=fund,
            fund_pay_sumamt=fund,
            acct_pay=0,
            psn_cash_pay=0,
            refd_setl_flag=refd,
            init_setl_id=init,
        )

    q2_2023 = [s("s11", A, "21", "HA1", "2023-05-01 10:00", 500, 300)]
    q1 = [
        s("s1", A, "21", "HA1", "2024-02-01 10:00", 1000, 600, person="pD", dx="E11.9"),
        s("s2", A, "21", "HA3", "2024-02-10 10:00", 500, 400),
        s("s3", A, "21", "HZZ", "2024-03-01 10:00", 3000, 2000, person="pB", dx="J18"),
        dict(s("s4", A, "41", "PA1", "2024-03-05 10:00", 100, 50), fixmedins_type="2"),  # pharmacy
        s("s5", A, "11", "HA1", "2024-03-10 10:00", 200, 100),
        s("s6", A, "21", "HA1", "2024-01-15 10:00", 800, 500),
        s("r6", A, "21", "HA1", "2024-01-20 10:00", -800, -500, refd=1, init="s6"),  # same quarter
        s("s7", A, "21", "HA1", "2024-03-20 10:00", 1200, 700, person="pB"),
        s("s8", A, "52", "HA3", "2024-03-25 10:00", 300, 200),
    ]
    q2 = [
        s("r7", A, "21", "HA1", "2024-05-01 10:00", -1200, -700, person="pB", refd=1, init="s7"),
        s("s9", B, "21", "HA1", "2024-04-10 10:00", 900, 600),  # B's insured, out of county
        s("s10", A, "21", "HB1", "2024-05-05 10:00", 2000, 1500, person="pD", dx="I63.9"),
    ]
    return q2_2023, q1, q2


def _deaths():
    rows, n = [], 0
    for a in range(30, 70, 5):
        for _ in range(39 if a == 65 else 40):  # 40 deaths / 10,000 = M 0.004 in every group
            n += 1
            rows.append(
                dict(
                    death_id=f"d{n}",
                    person_key=f"dk{n}",
                    person_key_valid=True,
                    sex="1",
                    birth_date=dt.date(2024 - (a + 2), 1, 1),
                    death_date=dt.date(2024, 6, 30),
                    residence_county_code=A,
                    underlying_cause="I21.0",
                )
            )
    rows.append(
        dict(
            death_id="x1",
            person_key="x1",
            sex="1",
            birth_date=dt.date(1980, 1, 1),
            death_date=dt.date(2024, 3, 1),
            residence_county_code=A,
            underlying_cause="A09",
        )
    )
    rows.append(
        dict(
            death_id="x2",
            person_key="x2",
            sex="1",
            birth_date=dt.date(1954, 1, 1),
            death_date=dt.date(2024, 3, 1),
            residence_county_code=A,
            underlying_cause="I21",
        )
    )
    rows.append(
        dict(
            death_id="x3",
            person_key="x3",
            sex="1",
            birth_date=dt.date(1954, 7, 1),
            death_date=dt.date(2024, 6, 30),
            residence_county_code=A,
            underlying_cause="C34",
        )
    )
    return rows  # x1 not an NCD; x2 aged 70; x3 aged 69 (birthday tomorrow): the 40th of 65-69


def _qualitative():
    def q(county, ind, item, level, policy=1, impl=1, evidence="doc"):
        return dict(
            county_code=county,
            year=2024,
            indicator_code=ind,
            item_code=item,
            has_policy=policy,
            implemented=impl,
            evidence=evidence,
            assessor_level=level,
            assessed_at=dt.date(2024, 12, 1),
        )

    rows = [q(A, "I01", f"I01-{i}", "county") for i in range(1, 5)]
    rows += [q(A, "I01", f"I01-{i}", "city") for i in range(1, 4)]
    rows += [q(A, "I01", "I01-4", "city", impl=0)]  # the city level decides: 3 of 4 met
    rows += [q(A, "I02", f"I02-{i}", "county") for i in range(1, 5)]
    rows += [q(A, "I03", f"I03-{i}", "province") for i in range(1, 4)]
    rows += [q(A, "I03", "I03-4", "province", evidence=None)]
    rows += [q(B, "I01", f"I01-{i}", "county", policy=0) for i in range(1, 5)]
    return rows


def load_tiny_dataset(con) -> None:
    dbt.create_empty_raw_schema(con)
    for year in ("2023", "2024"):
        insert_raw(con, "facilities", year, _facilities())
        insert_raw(
            con,
            "population",
            year,
            _population(A, int(year), 5000, 20000) + _population(B, int(year), 0, 50000),
        )
    insert_raw(
        con,
        "dispatches",
        "2023",
        [
            dict(
                dispatch_id="d3",
                person_key="K3",
                home_org_code="A-H1",
                home_org_level="3",
                title_post="3",
                practice_type="11",
                host_org_code="A-C1",
                start_date=dt.date(2023, 9, 1),
                end_date=dt.date(2024, 3, 31),
                dispatch_type="long_term",
            ),
        ],
    )

    def d(i, person, host, start, end, kind="long_term", title="3"):
        return dict(
            dispatch_id=i,
            person_key=person,
            home_org_code="A-H1",
            home_org_level="3",
            title_post=title,
            practice_type="11",
            host_org_code=host,
            start_date=dt.date.fromisoformat(start),
            end_date=dt.date.fromisoformat(end) if end else None,
            dispatch_type=kind,
        )

    insert_raw(
        con,
        "dispatches",
        "2024",
        [
            d("d1", "K1", "A-C1", "2024-01-01", None),
            d("d2", "K2", "A-C1", "2024-01-01", "2024-01-31"),
            d("d4", "K4", "A-C1", "2024-01-01", None, kind="rotation"),
            d("d5", "K2", "A-V1", "2024-02-01", "2024-02-29"),
            d("d6", "K6", "A-C1", "2024-01-01", None, title="4"),
        ],
    )
    staff = [
        ("A-C1", "st1", 1, 60000),
        ("A-C1", "st2", 1, 80000),
        ("A-C1", "st3", 1, None),
        ("A-C1", "st4", 0, 100000),
        ("A-H1", "st5", 1, 150000),
        ("A-H1", "st6", 1, 130000),
        ("B-C1", "st7", 1, 90000),
        ("B-H1", "st8", 1, 120000),
        ("A-P1", "st9", 1, 10000),
    ]
    insert_raw(
        con,
        "personnel",
        "2024",
        [
            dict(
                org_code=o,
                staff_id=s,
                person_key=s,
                person_key_valid=True,
                practice_type="11",
                title_post="3",
                on_post=p,
                annual_income=inc,
            )
            for o, s, p, inc in staff
        ],
    )
    q1, q2 = _visits()
    insert_raw(con, "outpatient_visits", "2024Q1", q1)
    insert_raw(con, "outpatient_visits", "2024Q2", q2)
    s23, s1, s2 = _settlements()
    insert_raw(con, "insurance_settlements", "2023Q2", s23)
    insert_raw(con, "insurance_settlements", "2024Q1", s1)
    insert_raw(con, "insurance_settlements", "2024Q2", s2)
    insert_raw(
        con,
        "inpatient_discharges",
        "2024Q1",
        [
            dict(
                admission_id="h1",
                org_code="A-H1",
                mr_key="m1",
                person_key="pA",
                person_key_valid=True,
                discharge_time=dt.datetime(2024, 2, 15, 10),
                main_dx_code="I11.9",
                total_cost=5000,
            ),
            dict(
                admission_id="h2",
                org_code="A-H1",
                mr_key="m2",
                person_key="pC",
                person_key_valid=True,
                discharge_time=dt.datetime(2024, 2, 16, 10),
                main_dx_code="I10",
                total_cost=5000,
            ),
        ],
    )
    insert_raw(
        con,
        "chronic_disease_roster",
        "2024",
        [
            dict(county_code=A, year=2024, person_key=p, disease=dis, managed_at_year_end=m)
            for p, dis, m in [
                ("pA", "HTN", 1),
                ("pB", "T2DM", 1),
                ("pC", "HTN", 0),
                ("pD", "HTN", 1),
                ("pD", "T2DM", 1),
            ]
        ],
    )
    insert_raw(con, "deaths", "2024", _deaths())
    insert_raw(
        con,
        "remote_diagnoses",
        "2024Q1",
        [
            dict(
                request_id="r1",
                requesting_org_code="A-C1",
                center_org_code="A-H1",
                modality="IMAGING",
                requested_at=dt.datetime(2024, 1, 31),
                reported_at=dt.datetime(2024, 2, 1),
            ),
            dict(
                request_id="r2",
                requesting_org_code="A-V1",
                center_org_code="A-H1",
                modality="ECG",
                requested_at=dt.datetime(2024, 3, 31),
                reported_at=None,
            ),
            dict(
                request_id="r3",
                requesting_org_code="A-H1",
                center_org_code="A-H1",
                modality="ECG",
                requested_at=dt.datetime(2024, 2, 1),
                reported_at=dt.datetime(2024, 2, 1),
            ),
        ],
    )
    insert_raw(
        con,
        "remote_diagnoses",
        "2024Q2",
        [
            dict(
                request_id="r4",
                requesting_org_code="A-V1",
                center_org_code="A-H1",
                modality="ECG",
                requested_at=dt.datetime(2024, 4, 1),
                reported_at=dt.datetime(2024, 4, 2),
            ),
            # from the TCM hospital (counts: any other facility of the county) and from county B
            dict(
                request_id="r5",
                requesting_org_code="A-T1",
                center_org_code="A-H1",
                modality="ULTRASOUND",
                requested_at=dt.datetime(2024, 5, 1),
                reported_at=dt.datetime(2024, 5, 1, 12),
            ),
            dict(
                request_id="r6",
                requesting_org_code="B-C1",
                center_org_code="A-H1",
                modality="ECG",
                requested_at=dt.datetime(2024, 5, 2),
                reported_at=dt.datetime(2024, 5, 2, 12),
            ),
        ],
    )
    insert_raw(con, "qualitative_assessments", "2024", _qualitative())
    con.execute("""insert into raw.load_audit values
        ('facilities', '2024', 'facilities/2024/test.csv', 11, 10, 1, 0, '2025-01-01', 'loaded', null,
         'contract')""")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work_db = tmp_path_factory.mktemp("dbt") / "tiny.work.duckdb"
    con = duckdb.connect(str(work_db))
    load_tiny_dataset(con)
    con.close()
    result = dbt.build(work_db)
    con = duckdb.connect(str(work_db), read_only=True)
    rows = con.execute("select * from marts.indicator_values").df()
    catalog = con.execute("select * from marts.indicator_catalog").df()
    audit = con.execute("select * from marts.load_audit").df()
    con.close()
    values = {(r.area_code, r.period, r.indicator_code): r for r in rows.itertuples(index=False)}
    return {"result": result, "rows": rows, "values": values, "catalog": catalog, "audit": audit}


def _value(built, area, period, code):
    v = built["values"][(area, period, code)].value
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def test_build_passes_with_unit_and_data_tests(built):
    """This build is where the unit tests run: a warehouse build skips them
    (pipeline.dbt_plan_args), so every unit test of the project must pass here."""
    counts = built["result"].counts
    assert counts.get("error", 0) == 0 and counts.get("fail", 0) == 0, counts
    ran = [r["unique_id"] for r in built["result"].results if r["status"] == "pass"]
    declared = [
        f"unit_test.ygt.{t['model']}.{t['name']}"
        for path in (PROJECT_DIR / "models").rglob("*.yml")
        for t in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("unit_tests") or []
    ]
    assert declared and sorted(u for u in ran if u.startswith("unit_test.")) == sorted(declared)
    assert sum(u.startswith("test.") for u in ran) > 50  # data tests ran too


def test_warehouse_builds_skip_unit_tests():
    from orchestration import pipeline

    for periods in (None, ["2024Q4"]):
        args = pipeline.dbt_plan_args(periods)[1]
        assert args[args.index("--exclude-resource-type") + 1] == "unit_test"


def test_every_area_period_indicator_row(built):
    rows = built["rows"]
    # 5 areas x (2 annual periods x every indicator + 3 quarter periods x the quarterly ones),
    # counted in the catalogue seed
    catalogued = catalogue.indicators().values()
    quarterly = sum(r["frequency"] == "quarterly" for r in catalogued)
    assert len(rows) == 5 * (2 * len(catalogued) + 3 * quarterly)
    assert set(rows.period) == {"2023", "2023Q2", "2024", "2024Q1", "2024Q2"}
    names = dict(zip(rows.area_code, rows.area_name))
    assert names[PROV] == "示例省(合成数据)" and names[NAT] == "全国"
    assert set(built["catalog"].indicator_code) >= {"I01", "I14p", "S01", "S05"}
    assert built["audit"].rows_read.tolist() == [11]


@pytest.mark.parametrize(
    "area, period, code, expected",
    [
        # I07: A 2024Q1 visits 2 (H1, cancelled left out) + 1 TCM dept + 1 TCM hospital + 2 centre = 6
        (A, "2024Q1", "I07", 2 / 6),
        (A, "2024Q2", "I07", 3 / 7),
        (A, "2024", "I07", 3 / 7),
        (CITY, "2024Q1", "I07", 3 / 8),
        (A, "2024Q1", "I12", 2 / 6),
        (B, "2024Q1", "I12", 0.0),
        # I08: fund 600+400+2000+100+500-500+700+200 = 4000 (pharmacy 50 left out), in county 2000;
        # Q2 adds the reversal -700 (in county) and 1500 out of county
        (A, "2024Q1", "I08", 2000 / 4000),
        (A, "2024Q2", "I08", 1300 / 4800),
        (A, "2024Q1", "I09", 600 / 2000),
        (A, "2024Q2", "I09", 600 / 1300),
        (B, "2024Q2", "I08", 0.0),
        # I10a: in-county inpatient cost 1000+500+800-800+1200+300 = 3000 / admissions 4; Q2 1800/3
        (A, "2024Q1", "I10a", 750.0),
        (A, "2024Q2", "I10a", 600.0),
        (A, "2023Q2", "I10a", 500.0),
        (A, "2024Q2", "I10b", 0.2),
        (A, "2024", "I10b", 0.2),
        (A, "2024Q1", "I10b", None),
        (A, "2024Q1", "I11", 4 / 5),
        (A, "2024Q2", "I11", 3 / 5),
        (B, "2024Q2", "I11", 0.0),
        # I04 (annual, the year's ledger only): population 100,000 -> 10 per 10k (B: 50,000 -> 5).
        # 2024 ledger: K1 366 days counted, K2 31 + 29 = 60 not; K3 is only in the 2023 ledger
        # (122 days of 2023, not counted) and does not carry over into 2024.
        (A, "2024", "I04", 0.1),
        (A, "2023", "I04", 0.0),
        (CITY, "2024", "I04", 1 / 15),
        # I05 per 10k: r1 (Q1, imaging), r4 (Q2, ECG), r5 (Q2, TCM hospital's ultrasound) count;
        # r2 unreported, r3 the centre's own, r6 from county B do not
        (A, "2024Q1", "I05a", 0.1),
        (A, "2024Q1", "I05b", 0.0),
        (A, "2024Q2", "I05a", 0.3),
        (A, "2024Q2", "I05b", 0.1),
        (A, "2024", "I05a", 0.3),
        (B, "2024", "I05a", 0.0),
        (CITY, "2024Q1", "I05a", 1 / 15),
        (NAT, "2024", "I05b", 1 / 15),
        (A, "2024", "I05c", 0.5),
        (B, "2024", "I05c", None),
        (CITY, "2024Q1", "I05c", 0.5),
        # I06: A (60000+80000)/2 / ((150000+130000)/2) = 0.5; B 90000/120000; city pooled
        (A, "2024", "I06", 0.5),
        (B, "2024", "I06", 0.75),
        (CITY, "2024", "I06", (230000 / 3) / (400000 / 3)),
        # I13: cohort pA pB pD = 3; Q1 related pA (HIS I11.9), any + pB (out-of-county J18)
        (A, "2024Q1", "I13", 1 / 3),
        (A, "2024Q1", "I13x", 2 / 3),
        (A, "2024Q2", "I13", 2 / 3),
        (A, "2024Q2", "I13x", 1.0),
        (A, "2023", "I13", None),
        (A, "2024", "I14", 0.14786),
        (CITY, "2024", "I14", 0.14786),
        (B, "2024", "I14", None),
        (A, "2024", "I14p", None),
        (A, "2024", "I01", 0.75),
        (A, "2024", "I02", 1.0),
        (A, "2024", "I03", 0.75),
        (B, "2024", "I01", 0.0),
        (B, "2024", "I02", 0.0),
        (CITY, "2024", "I02", 0.5),
        (CITY, "2024", "I01", 0.0),
    ],
)
def test_hand_computed_values(built, area, period, code, expected):
    got = _value(built, area, period, code)
    if expected is None:
        assert got is None, (area, period, code, got)
    else:
        tol = 5e-6 if code in ("I14", "I14p") and expected == 0.14786 else 1e-9
        assert got is not None and abs(got - expected) <= tol, (area, period, code, got, expected)


def test_statuses_and_numerators(built):
    v = built["values"]
    assert v[(A, "2024", "I01")].status == "部分达标"
    assert v[(A, "2024", "I02")].status == "达标"
    assert v[(B, "2024", "I01")].status == "未达标"
    assert v[(B, "2024", "I02")].status == "未达标"  # no assessment: no item met
    assert v[(CITY, "2024", "I02")].numerator == 1 and v[(CITY, "2024", "I02")].denominator == 2
    i10b = v[(A, "2024Q2", "I10b")]
    assert (i10b.numerator, i10b.denominator) == (100.0, 500.0)
    i14 = v[(A, "2024", "I14")]
    assert pd.isna(i14.numerator) and pd.isna(i14.denominator)  # a probability, not a ratio
    i05a = v[(A, "2024", "I05a")]
    assert (i05a.numerator, i05a.denominator, i05a.unit) == (3.0, 10.0, "per_10k")
    assert not any(code == "I04" and period != "2024" and period != "2023" for _, period, code in v)


def test_period_dates_for_bi_time_axes(built):
    """marts.indicator_values carries each period as real dates: year-to-date periods start on
    1 January and end on the last day of their quarter; a year ends on 31 December."""
    rows = built["rows"]
    dates = {
        (r.period, f"{r.period_start:%Y-%m-%d}", f"{r.period_end:%Y-%m-%d}")
        for r in rows.itertuples(index=False)
    }
    assert dates == {
        ("2023", "2023-01-01", "2023-12-31"),
        ("2023Q2", "2023-01-01", "2023-06-30"),
        ("2024", "2024-01-01", "2024-12-31"),
        ("2024Q1", "2024-01-01", "2024-03-31"),
        ("2024Q2", "2024-01-01", "2024-06-30"),
    }


def test_failing_build_names_the_failing_nodes(tmp_path):
    work_db = tmp_path / "fail.duckdb"
    con = duckdb.connect(str(work_db))
    load_tiny_dataset(con)
    # the same facility twice in the 2024 register would double-count its visits: blocked
    insert_raw(con, "facilities", "2024", _facilities()[:1])
    con.close()
    with pytest.raises(dbt.DbtError) as err:
        dbt.run_dbt(
            ["build", "--select", "+int_facilities__by_year", "--indirect-selection", "cautious"],
            work_db,
        )
    assert any("int_facilities__by_year" in n for n in err.value.failed_nodes), err.value
    assert "int_facilities__by_year" in str(err.value)


def test_key_columns_reports_duplicate_keys_and_missing_required_values(tmp_path):
    """tests/dbt/generic/key_columns.sql, one test for a key and the required columns: a
    facility sent twice is one failing key with 2 rows, a row without its org code one with a
    missing value; the staging key warns, it does not stop the build."""
    work_db = tmp_path / "keys.duckdb"
    con = duckdb.connect(str(work_db))
    load_tiny_dataset(con)
    insert_raw(con, "facilities", "2024", [_facilities()[1], raw_facility(None, "A1", A)])
    con.close()
    result = dbt.run_dbt(
        ["build", "--select", "stg_registry__facilities", "--store-failures"], work_db
    )
    (key_test,) = [r for r in result.results if "key_columns" in r["unique_id"]]
    assert key_test["status"] == "warn" and key_test["failures"] == 2
    con = duckdb.connect(str(work_db), read_only=True)
    (table,) = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema = 'dbt_test__audit' and table_name like 'key_columns_stg_registry__%'"
    ).fetchone()
    failing = con.execute(f"select org_code, n_rows, n_missing from {table}").fetchall()
    con.close()
    assert sorted(failing, key=str) == [("A-T1", 2, 0), (None, 1, 1)]


def test_unit_tests_do_not_depend_on_province_vars(tmp_path):
    work_db = tmp_path / "vars.duckdb"
    con = duckdb.connect(str(work_db))
    load_tiny_dataset(con)
    con.close()
    result = dbt.run_dbt(
        ["build", "--select", "+int_indicator__i04", "--indirect-selection", "cautious"],
        work_db,
        vars={"min_dispatch_days": 1, "population_per": 1000},
    )
    assert result.counts.get("pass", 0) > 0


def test_each_working_database_keeps_its_own_dbt_target(tmp_path):
    """dbt's artefacts and partial-parse state live beside each working database: building
    another warehouse in between does not make dbt parse the whole project again (it drops
    its saved state when the profile, i.e. the DuckDB path, differs from the last parse)."""
    a, b = tmp_path / "a" / "w.work.duckdb", tmp_path / "b" / "w.work.duckdb"
    for db in (a, b):
        db.parent.mkdir()
        assert "saved manifest not found" in dbt.run_dbt(["parse"], db).output
    for db in (a, b):
        assert (db.parent / "w.work.dbt-target" / "partial_parse.msgpack").is_file()
    again = dbt.run_dbt(["parse"], a).output
    assert "Unable to do partial parsing" not in again and "Starting full parse" not in again
