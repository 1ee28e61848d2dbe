"""National code sets and the GB/T 2260 area register (issue 33).

- WS 218-2002 facility categories beside the project's short codes, one definition
  (seeds/facility_categories.csv, read by contract.FACILITY_CATEGORIES), and a four-character
  code behaving like its short equivalent in the indicators (D600 = D5 village clinic; D500
  中小学卫生保健所 is primary care but no village clinic; A100 = A1 county hospital).
- 卫统2 practice types and title posts, two-digit pay-method forms, unknown med_type codes
  that load and are reported (warning R36).
- A real county code (411121 舞阳县 of 411100 漯河市, 410000 河南省) named in
  marts.indicator_values, `ygt explain`, the workbook and the HTML report.

Every expected value is worked out by hand in the comments next to it.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import duckdb
import openpyxl
import pytest
from raw_rows import insert_raw, raw_facility
from test_land import write_csv

from orchestration import contract, dbt, duck
from orchestration.explain import explain, render_text
from orchestration.land import land
from orchestration.quality.gates import run_raw_gates
from orchestration.report.pages import write_report
from orchestration.settings import PROJECT_DIR
from orchestration.workbook import write_workbook

SEEDS = PROJECT_DIR / "seeds"
WUYANG, LUOHE, HENAN = "411121", "411100", "410000"
SHANXIAN = "411222"  # 陕县, became 陕州区 411203 in 2015: a retired code
DEMO = "990121"  # the synthetic province's 示例一县 (seeds/area_names.csv)


def seed_rows(name: str) -> list[dict]:
    with (SEEDS / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# ----------------------------------------------------------------------------- the seeds


def test_contract_categories_are_the_seed_codes():
    rows = seed_rows("facility_categories")
    assert contract.FACILITY_CATEGORIES == tuple(r["category_code"] for r in rows)
    assert contract.SOURCE_BY_NAME["facilities"].column("category_code").enum == (
        contract.FACILITY_CATEGORIES
    )
    ws218 = [r for r in rows if r["standard"] == "WS 218-2002"]
    legacy = [r for r in rows if r["standard"] == "legacy"]
    # WS 218-2002 third-level codes counted by class: A 37, B 2, C 3, D 25, E 3, F 4, G 4,
    # H 15, J 4, K 1, L 7, M 31, N 20, O 2, P 17, Q 7 = 182; the short codes A1 ... P1 are 17
    assert len(ws218) == 182 and len(legacy) == 17
    assert all(len(r["category_code"]) == 4 for r in ws218)
    assert {r["category_code"] for r in legacy} == {
        "A1", "A2", "A3", "A4", "A5", "B1", "B2", "C1", "C21", "C22",
        "D1", "D2", "D3", "D5", "G1", "J1", "P1",
    }  # fmt: skip
    assert all(r["legacy_code"] == r["category_code"] for r in legacy)


FLAGS = (
    "is_primary_care",
    "is_tcm_category",
    "is_medical_facility",
    "is_village_clinic",
    "is_township_health_centre",
)


@pytest.mark.parametrize(
    "code, flags, legacy_code",
    [
        # (primary, tcm, medical, village, township)
        ("A100", (0, 0, 1, 0, 0), "A1"),  # 综合医院
        ("A210", (0, 1, 1, 0, 0), "A2"),  # 中医(综合)医院
        ("A223", (0, 1, 1, 0, 0), "A2"),  # 针灸医院, a TCM specialist hospital
        ("A412", (0, 1, 1, 0, 0), "A4"),  # 藏医院
        ("A519", (0, 0, 1, 0, 0), "A5"),  # 儿童医院
        ("B100", (1, 0, 1, 0, 0), "B1"),
        ("C210", (1, 0, 1, 0, 1), "C21"),  # 中心卫生院
        ("C220", (1, 0, 1, 0, 1), "C22"),  # 乡卫生院
        ("D212", (1, 1, 1, 0, 0), "D2"),  # 中医诊所: TCM by its category
        ("D400", (1, 0, 1, 0, 0), "D3"),  # 医务室
        ("D500", (1, 0, 1, 0, 0), ""),  # 中小学卫生保健所: class D, but no village clinic
        ("D600", (1, 0, 1, 1, 0), "D5"),  # 村卫生室
        ("D5", (1, 0, 1, 1, 0), "D5"),  # the short code of 村卫生室, unchanged
        ("G100", (0, 0, 1, 0, 0), "G1"),
        ("J100", (0, 0, 0, 0, 0), "J1"),  # CDC: public health only, no visits counted
        ("F110", (0, 0, 0, 0, 0), ""),  # 血液中心
        ("P110", (0, 0, 0, 0, 0), ""),  # 临床检验中心 (WS 218 P, not the pharmacy P1)
        ("P1", (0, 0, 0, 0, 0), "P1"),
    ],
)
def test_category_flags(code, flags, legacy_code):
    row = next(r for r in seed_rows("facility_categories") if r["category_code"] == code)
    assert tuple(int(row[f]) for f in FLAGS) == flags
    assert row["legacy_code"] == legacy_code


def test_primary_care_is_ws218_classes_b_c_d():
    for r in seed_rows("facility_categories"):
        if r["standard"] == "WS 218-2002":
            assert r["is_primary_care"] == ("1" if r["category_code"][0] in "BCD" else "0"), r


def test_practice_types_title_posts_and_pay_method_codes():
    national = {"11", "12", "13", "21", "22", "31", "32", "41", "42", "50", "69", "70", "80", "90"}
    assert set(contract.PRACTICE_TYPES) == national | {"51", "61"}  # 51, 61: earlier codes
    assert set(contract.TITLE_POSTS) == {"1", "2", "3", "4", "5", "6", "9"}
    pay = contract.SOURCE_BY_NAME["inpatient_discharges"].column("pay_method")
    assert dict(pay.aliases) == {
        "01": "1", "02": "2", "03": "3", "04": "4", "05": "5", "06": "6", "07": "7", "08": "8",
        "99": "9",
    }  # fmt: skip


def test_area_register_seed():
    rows = {r["area_code"]: r for r in seed_rows("gbt2260_areas")}
    assert (rows[WUYANG]["area_name"], rows[WUYANG]["area_level"]) == ("舞阳县", "county")
    assert (rows[LUOHE]["area_name"], rows[LUOHE]["area_level"]) == ("漯河市", "city")
    assert (rows[HENAN]["area_name"], rows[HENAN]["area_level"]) == ("河南省", "province")
    # 31 provinces, 香港, 澳门 and 台湾 (GB/T 2260 gives 台湾 only its province code)
    assert sum(r["area_level"] == "province" and r["in_force"] == "1" for r in rows.values()) == 34
    old = rows[SHANXIAN]
    assert (old["area_name"], old["in_force"], old["changed_in"]) == ("陕县", "0", "2015")
    assert (old["successor_code"], old["successor_name"]) == ("411203", "陕州区")
    assert rows["411203"]["in_force"] == "1"
    # a municipality's districts roll up to xx0100: named after the municipality
    assert rows["110100"]["area_name"] == "北京市辖区"
    assert not any(code.startswith("99") for code in rows)  # the demo province is not real


# ----------------------------------------------------------------------------- landing


def _write_source(landing: Path, source: str, period: str, shared: dict, own: list[dict]) -> None:
    """landing/<source>/<period>/<source>.csv in the contract's columns: a row for each of `own`,
    with `shared`'s values where it gives none."""
    cols = [c.name for c in contract.SOURCE_BY_NAME[source].columns]
    write_csv(landing / source / period / f"{source}.csv", [shared | r for r in own], cols=cols)


def test_national_codes_land_and_unknown_med_types_are_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("YGT_HASH_KEY", "test-key")
    landing = tmp_path / "landing"
    fac = dict(fixmedins_code="", org_name="x", county_code=WUYANG, is_tcm_class="0",
               hospital_level="1", ownership="public", consortium_code="", is_lead_hospital="0",
               has_ecg_device="0", ecg_linked_to_center="0", is_imaging_center="0",
               is_ecg_center="0", active="1")  # fmt: skip
    _write_source(landing, "facilities", "2024", fac, [
        {"org_code": "V1", "category_code": "D600"},
        {"org_code": "S1", "category_code": "D500"},
        {"org_code": "V2", "category_code": "D5"},
        {"org_code": "X1", "category_code": "D700"},  # no such WS 218 code
    ])  # fmt: skip
    dis = dict(org_code="V1", mr_no="MR1", id_no="", sex="1", birth_date="1950-01-01",
               admit_time="2024-02-01 08:00:00", discharge_time="2024-02-05 08:00:00",
               admit_dept="03", main_dx_code="I10.x00", discharge_way="1",
               total_cost="100.00")  # fmt: skip
    _write_source(landing, "inpatient_discharges", "2024Q1", dis, [
        {"admission_id": "a1", "pay_method": "01"},
        {"admission_id": "a2", "pay_method": "99"},
        {"admission_id": "a3", "pay_method": "3"},
        {"admission_id": "a4", "pay_method": "10"},  # not a pay-method code
    ])  # fmt: skip
    setl = dict(mdtrt_id="M", psn_no="P1", certno="", gend="1", brdy="1950-01-01", insutype="390",
                insu_admdvs=WUYANG, mdtrtarea_admdvs=WUYANG, fixmedins_code="V1",
                fixmedins_type="1", begndate="2024-02-01", enddate="2024-02-01",
                setl_time="2024-02-01 09:00:00", dise_codg="I10.x00", medfee_sumamt="50.00",
                hifp_pay="20.00", fund_pay_sumamt="20.00", acct_pay="0", psn_cash_pay="30.00",
                refd_setl_flag="0", init_setl_id="")  # fmt: skip
    _write_source(landing, "insurance_settlements", "2024Q1", setl, [
        {"setl_id": "s1", "med_type": "11"},
        {"setl_id": "s2", "med_type": "9101"},  # a province's local code
        {"setl_id": "s3", "med_type": "9101"},
    ])  # fmt: skip
    staff = dict(org_code="V1", id_no="", sex="女", birth_date="1980-01-01", on_post="是")
    staff["annual_income"] = "50000"
    _write_source(landing, "personnel", "2024", staff, [
        {"staff_id": "1", "practice_type": "13", "title_post": "6"},  # 见习医师, 待聘
        {"staff_id": "2", "practice_type": "90", "title_post": "9"},  # 工勤; 9 = 待聘
        {"staff_id": "3", "practice_type": "51", "title_post": "4"},  # earlier 51
        {"staff_id": "4", "practice_type": "99", "title_post": "4"},  # no such code
    ])  # fmt: skip
    db = tmp_path / "w.duckdb"
    land(db, landing, progress=lambda _msg: None)
    con = duck.connect(db)
    try:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        assert q("select org_code, category_code from raw.facilities order by 1") == [
            ("S1", "D500"),
            ("V1", "D600"),
            ("V2", "D5"),
        ]
        assert q("select admission_id, pay_method from raw.inpatient_discharges order by 1") == [
            ("a1", "1"),
            ("a2", "9"),
            ("a3", "3"),
        ]
        assert q("select staff_id, practice_type, title_post, sex, on_post from raw.personnel "
                 "order by 1") == [
            ("1", "13", "6", "2", 1),
            ("2", "90", "9", "2", 1),
            ("3", "51", "4", "2", 1),
        ]  # fmt: skip
        quarantined = q("select source, reason from raw.quarantine order by source")
        assert [s for s, _ in quarantined] == ["facilities", "inpatient_discharges", "personnel"]
        assert "category_code" in quarantined[0][1] and "pay_method" in quarantined[1][1]
        assert "practice_type" in quarantined[2][1]
        # unknown med_type codes load (never dropped) ...
        assert q("select setl_id, med_type from raw.insurance_settlements order by 1") == [
            ("s1", "11"),
            ("s2", "9101"),
            ("s3", "9101"),
        ]
        # ... and the warning R36 lists them: 2 of the 3 rows, one distinct code
        gate = run_raw_gates(con)
        r36 = next(r for r in gate.rows if r["check_id"] == "R36")
        assert (r36["severity"], r36["status"], r36["rows_checked"], r36["rows_failed"]) == (
            "warning",
            "failed",
            3,
            2,
        )
        assert r36["finding"] == "9101"
        assert r36 in gate.warnings and r36 not in gate.outstanding
    finally:
        con.close()


# ----------------------------------------------------------------------------- dbt


def _facility(org: str, cat: str, **kw) -> dict:
    """A facility of 舞阳县 in consortium CA, level 1, insurance code Y<org>."""
    fixed = dict(fixmedins_code=f"Y{org}", hospital_level="1", consortium_code="CA")
    return raw_facility(org, cat, WUYANG, **(fixed | kw))


# facility -> (category, non-cancelled visits in 2024Q1)
VISITS = {
    "H1": ("A100", 3),  # 综合医院 (county hospital, not primary care)
    "T1": ("C210", 2),  # 中心卫生院
    "V1": ("D600", 4),  # 村卫生室, ECG device linked to the centre
    "V2": ("D5", 1),  # 村卫生室 under its short code, no ECG device
    "S1": ("D500", 1),  # 中小学卫生保健所
    "M1": ("D212", 2),  # 中医诊所
    "CDC": ("J100", 5),  # 疾病预防控制中心: not a medical facility
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work_db = tmp_path_factory.mktemp("codes") / "codes.work.duckdb"
    con = duckdb.connect(str(work_db))
    dbt.create_empty_raw_schema(con)
    facilities = [
        _facility(
            org, cat, **({"has_ecg_device": 1, "ecg_linked_to_center": 1} if org == "V1" else {})
        )
        for org, (cat, _) in VISITS.items()
    ]
    facilities[0].update(hospital_level="2", is_lead_hospital=1)
    insert_raw(con, "facilities", "2024", facilities)
    population = [
        dict(county_code=county, year=2024, sex=sex, age_group="30-34", population=10000)
        for county in (WUYANG, SHANXIAN, DEMO)
        for sex in ("1", "2")
    ]
    insert_raw(con, "population", "2024", population)
    visits, n = [], 0
    for org, (_, count) in VISITS.items():
        for _ in range(count):
            n += 1
            visits.append(
                dict(
                    visit_id=f"v{n}",
                    org_code=org,
                    dept_code="03",
                    visit_time=dt.datetime(2024, 2, 1, 9),
                    visit_type="outpatient",
                    cancel_flag=0,
                    person_key=f"K{n}",
                    person_key_valid=True,
                    sex="1",
                    birth_date=dt.date(1960, 1, 1),
                    dx_code="J06.9",
                    total_fee=10,
                    insutype="390",
                )
            )
    insert_raw(con, "outpatient_visits", "2024Q1", visits)

    def discharge(i, org, way):
        return dict(
            admission_id=f"a{i}",
            org_code=org,
            mr_key=f"MR{i}",
            person_key=f"K{i}",
            person_key_valid=True,
            sex="1",
            birth_date=dt.date(1950, 1, 1),
            admit_time=dt.datetime(2024, 2, 1, 8),
            discharge_time=dt.datetime(2024, 2, 5, 8),
            admit_dept="03",
            main_dx_code="I10.x00",
            discharge_way=way,
            pay_method="1",
            total_cost=1000,
        )

    insert_raw(
        con,
        "inpatient_discharges",
        "2024Q1",
        [discharge(1, "H1", "3"), discharge(2, "H1", "1"), discharge(3, "T1", "3")],
    )
    con.close()
    result = dbt.build(work_db)
    assert result.counts.get("error", 0) == 0 and result.counts.get("fail", 0) == 0, result.counts
    con = duckdb.connect(str(work_db), read_only=True)
    values = {
        (r[0], r[1], r[2]): r[3:]
        for r in con.execute(
            "select area_code, period, indicator_code, area_name, numerator, denominator, value "
            "from marts.indicator_values"
        ).fetchall()
    }
    breakdown = con.execute(
        "select distinct area_name from marts.indicator_breakdown where area_code = ?", [WUYANG]
    ).fetchall()
    con.close()
    return {"db": work_db, "values": values, "breakdown": breakdown}


def _nd(built, area, period, code):
    _, num, den, value = built["values"][(area, period, code)]
    return num, den, None if value is None or math.isnan(value) else value


def test_four_character_categories_count_like_their_short_codes(built):
    # I07: primary-care visits T1 2 + V1 4 + V2 1 + S1 1 + M1 2 = 10 over the medical
    # facilities' visits H1 3 + 10 = 13 (the CDC's 5 are no medical facility's)
    assert _nd(built, WUYANG, "2024Q1", "I07") == (10, 13, pytest.approx(10 / 13))
    # I12: TCM visits = the 中医诊所 D212's 2 (department 03 is no TCM department) over 13
    assert _nd(built, WUYANG, "2024Q1", "I12") == (2, 13, pytest.approx(2 / 13))
    # I05c: active village clinics D600 V1 and D5 V2 = 2 (D500 S1 is none), covered: V1
    assert _nd(built, WUYANG, "2024Q1", "I05c") == (1, 2, 0.5)
    # S05: discharges at county-level hospitals (A1-A5: the A100 H1, not the C210 T1) = 2, of
    # which 1 went to a community/township centre (离院方式 3)
    assert _nd(built, WUYANG, "2024Q1", "S05") == (1, 2, 0.5)


def test_real_area_codes_carry_their_names(built):
    names = {(a, p): v[0] for (a, p, _), v in built["values"].items()}
    assert names[(WUYANG, "2024")] == "舞阳县"
    assert names[(LUOHE, "2024")] == "漯河市"
    assert names[(HENAN, "2024")] == "河南省"
    assert names[(SHANXIAN, "2024")] == "陕县"  # retired in 2015: its last name
    assert names[("411200", "2024")] == "三门峡市"
    # the synthetic province keeps its own names (seeds/area_names.csv wins)
    assert names[(DEMO, "2024")] == "示例一县"
    assert names[("990000", "2024")] == "示例省(合成数据)"
    assert names[("000000", "2024")] == "全国"
    assert built["breakdown"] == [("舞阳县",)]


def test_explain_workbook_and_report_name_a_real_county(built, tmp_path):
    r = explain(built["db"], WUYANG, "2024Q1", "I07")
    assert r["area"]["name"] == "舞阳县"
    higher = {c["area_code"]: c["area_name"] for c in r["comparisons"] if c["area_code"]}
    assert higher[LUOHE] == "漯河市" and higher[HENAN] == "河南省"
    text = render_text(r)
    assert "区域 Area: 舞阳县 411121" in text and "411121 411121" not in text

    out = write_workbook(built["db"], 2024, tmp_path / "wb.xlsx")
    titles = openpyxl.load_workbook(out, read_only=True).sheetnames
    assert any("舞阳县" in t and WUYANG in t for t in titles), titles
    assert any("漯河市" in t for t in titles) and any("河南省" in t for t in titles), titles

    html = write_report(built["db"], tmp_path / "report.html").read_text(encoding="utf-8")
    assert "舞阳县" in html and "漯河市" in html
