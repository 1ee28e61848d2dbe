"""Layout profiles (issue 33): the national export layouts land as they come -- HQMS and N041
front pages, the insurance platform's Chinese field names, the roster's Chinese headers -- chosen
by header signature or pinned, recorded per file; a header matching none or several is refused
by name. Files are built here; the expected values are the ones the fixture was written with."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from test_land import ID_A, ID_B, NAMES, expected_hmac, rows, visit, write_csv
from test_real_files import assert_nothing_personal, audit_of, land_quietly, written_everywhere
from test_spreadsheets import write_dbf

from orchestration import contract
from orchestration.land import LandingError, land
from orchestration.land.profile import Profiles, norm, render_docs, shipped

pytestmark = pytest.mark.usefixtures("landing_key")


def csv_file(path, header: list[str], data: list[list[str]], encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(",".join(r) for r in [header, *data]) + "\n"
    path.write_bytes(text.encode(encoding))


FACILITY_COLS = [c.name for c in contract.SOURCE_BY_NAME["facilities"].columns]


def register(landing, year="2024"):
    """A facility register: 01001 县人民医院 (level 2), 02001 城关镇卫生院."""
    base = dict(fixmedins_code="", county_code="990121", is_tcm_class="0", ownership="public",
                consortium_code="C1", is_lead_hospital="0", has_ecg_device="0",
                ecg_linked_to_center="0", is_imaging_center="0", is_ecg_center="0", active="1")  # fmt: skip
    regs = [
        {**base, "org_code": "01001", "org_name": "县人民医院", "category_code": "A100",
         "hospital_level": "2"},
        {**base, "org_code": "02001", "org_name": "城关镇卫生院", "category_code": "C210",
         "hospital_level": "1"},
    ]  # fmt: skip
    write_csv(landing / "facilities" / year / "register.csv", regs, cols=FACILITY_COLS)


def two_rows_landed_through(tmp_path, file_name: str, profile: str):
    """Land tmp_path/landing, one file of two rows (ID_A's and ID_B's, NAMES[:2]): both rows load,
    through `profile`, and no identifier or name of theirs is written in clear. Returns the db."""
    db, rep, said = land_quietly(tmp_path)
    assert audit_of(db, file_name)[:5] == (2, 2, 0, 0, "loaded")
    assert rows(db, "SELECT profile FROM raw.load_audit") == [(profile,)]
    assert_nothing_personal(written_everywhere(db, rep, said), [ID_A, ID_B], NAMES[:2])
    return db


HQMS = ["A01", "A48", "A49", "A11", "A12C", "A13", "A20N", "A20", "B12", "B15", "B13C", "C03C",
        "B34C", "A46C", "D01"]  # fmt: skip


def test_hqms_front_page_lands_through_its_profile(tmp_path):
    landing = tmp_path / "landing"
    csv_file(
        landing / "inpatient_discharges" / "2024Q2" / "hqms.csv",
        HQMS,
        [
            ["01001", "BA001", "2", NAMES[0], "1", "1949-12-31", "1", ID_A, "2024-04-02 08:30:00",
             "2024-04-09 10:00:00", "03", "I10.x00", "1", "01", "5123.40"],
            ["01001", "BA002", "1", NAMES[1], "2", "1980-01-01", "1", ID_B, "2024-05-02 09:00:00",
             "2024-05-04 11:15:00", "03", "E11.900", "3", "99", "800.00"],
        ],
    )  # fmt: skip
    db = two_rows_landed_through(tmp_path, "hqms.csv", "inpatient_discharges_hqms")
    select = (
        "SELECT admission_id, org_code, mr_key, person_key, sex, admit_time::VARCHAR, "
        "discharge_way, pay_method, total_cost FROM raw.inpatient_discharges ORDER BY 1"
    )
    assert rows(db, select) == [
        ("BA001-2", "01001", expected_hmac("BA001"), expected_hmac(ID_A), "1",
         "2024-04-02 08:30:00", "1", "1", Decimal("5123.40")),
        ("BA002-1", "01001", expected_hmac("BA002"), expected_hmac(ID_B), "2",
         "2024-05-02 09:00:00", "3", "9", Decimal("800.00")),
    ]  # fmt: skip


N041 = [("USERNAME", "C", 30, 0), ("BAH", "C", 10, 0), ("ZYCS", "N", 3, 0), ("XM", "C", 10, 0),
        ("XB", "C", 1, 0), ("CSRQ", "C", 8, 0), ("SFZH", "C", 18, 0), ("RYSJ", "C", 8, 0),
        ("RYSJS", "N", 2, 0), ("CYSJ", "C", 8, 0), ("CYSJS", "N", 2, 0), ("RYKB", "C", 4, 0),
        ("JBDM", "C", 10, 0), ("LYFS", "C", 1, 0), ("YLFKFS", "C", 2, 0), ("ZFY", "N", 12, 2)]  # fmt: skip


def n041_row(org_name, bah, zycs, rysjs="8", cysjs="16", id_no=ID_A, name=NAMES[0]):
    return [org_name, bah, zycs, name, "1", "19491231", id_no, "20240402", rysjs, "20240409",
            cysjs, "03", "I10.x00", "3", "07", "1234.50"]  # fmt: skip


def n041_folder(tmp_path) -> Path:
    """tmp_path/landing with the facility register of register() and an empty folder of 2024Q2
    discharges; returns the folder."""
    landing = tmp_path / "landing"
    register(landing)
    base = landing / "inpatient_discharges" / "2024Q2"
    base.mkdir(parents=True)
    return base


def write_n041(path: Path, *records: list[str]) -> None:
    """An N041 front-page DBF of these records, none deleted."""
    write_dbf(path, N041, [(False, r) for r in records])


def test_n041_dbf_lands_with_its_facility_looked_up_in_the_register(tmp_path):
    base = n041_folder(tmp_path)
    write_n041(base / "城关镇卫生院.dbf", n041_row("城关镇卫生院", "B1", "1"),
               n041_row("城关镇卫生院", "B2", "2", rysjs="", cysjs="25", id_no=ID_B))  # fmt: skip
    write_n041(base / "unknown.dbf", n041_row("不存在的医院", "B9", "1"))
    db, rep, said = land_quietly(tmp_path)
    assert audit_of(db, "城关镇卫生院.dbf")[:5] == (2, 1, 1, 0, "loaded")
    got = rows(
        db,
        "SELECT admission_id, org_code, admit_time::VARCHAR, discharge_time::VARCHAR, "
        "discharge_way, pay_method, total_cost FROM raw.inpatient_discharges",
    )
    assert got == [
        (
            "B1-1",
            "02001",
            "2024-04-02 08:00:00",
            "2024-04-09 16:00:00",
            "3",
            "7",
            Decimal("1234.50"),
        )
    ]
    # an hour of 25 is not a time: quarantined, never rounded into the next day
    ((reason,),) = rows(db, "SELECT reason FROM raw.quarantine")
    assert reason.startswith("bad date-time in discharge_time")
    read, loaded, _, _, status, message = audit_of(db, "unknown.dbf")
    assert status == "rejected" and loaded == 0 and "不存在的医院" in message
    assert rows(db, "SELECT DISTINCT profile FROM raw.load_audit WHERE file LIKE '%.dbf'") == [
        ("inpatient_discharges_n041",)
    ]
    assert_nothing_personal(written_everywhere(db, rep, said), [ID_A, ID_B], NAMES[:1])


SETTLEMENT = dict(setl_id="S1", mdtrt_id="M1", psn_no="P0001", certno=ID_A, gend="1",
                  brdy="1949-12-31", insutype="390", med_type="21", insu_admdvs="990121",
                  mdtrtarea_admdvs="990121", fixmedins_code="H99012100001",
                  fixmedins_name="县人民医院", fixmedins_type="1", begndate="2024-04-02",
                  enddate="2024-04-09", setl_time="2024-04-09 10:00:00+08:00", dise_codg="I10",
                  medfee_sumamt="5000.00", hifp_pay="3000.00", fund_pay_sumamt="3200.00",
                  acct_pay="0.00", psn_cash_pay="1800.00", refd_setl_flag="0", init_setl_id="")  # fmt: skip
ZH = {"setl_id": "结算ID", "mdtrt_id": "就诊ID", "psn_no": "人员编号", "certno": "证件号码",
      "gend": "性别", "brdy": "出生日期", "insutype": "险种类型", "med_type": "医疗类别",
      "insu_admdvs": "参保地医保区划", "mdtrtarea_admdvs": "就医地医保区划",
      "fixmedins_code": "定点医药机构编号", "fixmedins_name": "定点医药机构名称",
      "fixmedins_type": "定点医药机构类型", "begndate": "开始日期", "enddate": "结束日期",
      "setl_time": "结算时间", "dise_codg": "病种编码", "medfee_sumamt": "医疗费总额",
      "hifp_pay": "基本医疗保险统筹基金支出", "fund_pay_sumamt": "基金支付总额",
      "acct_pay": "个人账户支出", "psn_cash_pay": "个人现金支出", "refd_setl_flag": "退费结算标志",
      "init_setl_id": "原结算ID"}  # fmt: skip


def test_insurance_exports_with_chinese_names_and_the_admvs_spelling_land_alike(tmp_path):
    landing = tmp_path / "landing"
    base = landing / "insurance_settlements" / "2024Q2"
    cols = list(SETTLEMENT)
    csv_file(base / "platform.csv", [ZH[c] for c in cols], [[SETTLEMENT[c] for c in cols]],
             encoding="gb18030")  # fmt: skip
    other = {**SETTLEMENT, "setl_id": "S2", "setl_time": "2024-05-01 09:00:00"}
    csv_file(
        base / "interface.csv",
        [("mdtrtarea_admvs" if c == "mdtrtarea_admdvs" else c) for c in cols],
        [[other[c] for c in cols]],
    )
    db, _, _ = land_quietly(tmp_path)
    assert audit_of(db, "platform.csv")[:5] == (1, 1, 0, 0, "loaded")
    assert audit_of(db, "interface.csv")[:5] == (1, 1, 0, 0, "loaded")
    assert dict(rows(db, "SELECT file, profile FROM raw.load_audit")) == {
        "insurance_settlements/2024Q2/platform.csv": "insurance_settlements_zh",
        "insurance_settlements/2024Q2/interface.csv": "contract",
    }
    got = rows(
        db,
        "SELECT setl_id, setl_time::VARCHAR, mdtrtarea_admdvs, hifp_pay, psn_key, person_key "
        "FROM raw.insurance_settlements ORDER BY 1",
    )
    assert got == [
        ("S1", "2024-04-09 10:00:00", "990121", Decimal("3000.00"), expected_hmac("P0001"),
         expected_hmac(ID_A)),
        ("S2", "2024-05-01 09:00:00", "990121", Decimal("3000.00"), expected_hmac("P0001"),
         expected_hmac(ID_A)),
    ]  # fmt: skip


def test_the_roster_in_excel_with_chinese_headers_lands(tmp_path):
    path = tmp_path / "landing" / "personnel" / "2024" / "人员.xlsx"
    path.parent.mkdir(parents=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["机构代码", "工号", "姓名", "身份证件号码", "性别", "出生日期", "从事专业类别代码",
               "专业技术职务(聘)代码", "在岗职工", "年收入(元)"])  # fmt: skip
    ws.append(["01001", "0007", NAMES[0], ID_A, "男", "1949-12-31", "11", "3", "是", 91582.65])
    ws.append(["02001", "0008", NAMES[1], ID_B, "女", "1980-01-01", "21", "6", "否", 51000.1])
    wb.save(path)
    db = two_rows_landed_through(tmp_path, "人员.xlsx", "personnel_zh")
    select = (
        "SELECT staff_id, person_key, sex, title_post, on_post, annual_income FROM raw.personnel "
        "ORDER BY 1"
    )
    assert rows(db, select) == [
        ("0007", expected_hmac(ID_A), "1", "3", 1, Decimal("91582.65")),
        ("0008", expected_hmac(ID_B), "2", "6", 0, Decimal("51000.10")),
    ]


def test_header_matching_ignores_case_width_spaces_and_bom():
    assert norm("\ufeff ａ０１ ") == "a01" == norm("A01")
    profiles = Profiles.for_landing(None)
    header = [" ａ０１", "a48", "A49", "a12c", "A13", "A20", "b12 ", "B15", "B13C", "C03C",
              "B34C", "A46C", "D01"]  # fmt: skip
    chosen, why = profiles.choose("inpatient_discharges", "2024Q2", header)
    assert chosen.name == "inpatient_discharges_hqms" and "required" in why


def test_a_header_matching_several_layouts_is_refused_until_a_folder_pins_one(tmp_path):
    landing = tmp_path / "landing"
    write_csv(landing / "outpatient_visits" / "2024Q2" / "v.csv", [visit("1")])
    own = landing / "_profiles"
    own.mkdir(parents=True)
    # a vendor's layout that reads the same header differently (dept from dx_code, say)
    (own / "vendor_his.yml").write_text(
        "name: vendor_his\nsource: outpatient_visits\ndescription: a vendor's HIS export\n"
        "columns:\n"
        + "".join(
            f"  {c.name}: {'dx_code' if c.name == 'dept_code' else c.name}\n"
            for c in contract.SOURCE_BY_NAME["outpatient_visits"].columns
        ),
        encoding="utf-8",
    )
    db, rep, _ = land_quietly(tmp_path)
    read, loaded, _, _, status, message = audit_of(db, "v.csv")
    assert status == "rejected" and "contract" in message and "vendor_his" in message
    (own / "pins.yml").write_text("outpatient_visits/2024Q2: vendor_his\n")
    db, rep, _ = land_quietly(tmp_path)
    assert audit_of(db, "v.csv")[:5] == (1, 1, 0, 0, "loaded")
    assert rows(db, "SELECT dept_code, profile FROM raw.outpatient_visits, raw.load_audit") == [
        ("J06.9", "vendor_his")
    ]


def test_a_broken_profile_stops_landing_naming_its_file(tmp_path):
    landing = tmp_path / "landing"
    write_csv(landing / "outpatient_visits" / "2024Q2" / "v.csv", [visit("1")])
    (landing / "_profiles").mkdir()
    (landing / "_profiles" / "bad.yml").write_text(
        "name: bad\nsource: outpatient_visits\ncolumns:\n  visit_id: 就诊流水号\n"
    )
    with pytest.raises(LandingError, match=r"bad\.yml.*required column"):
        land(tmp_path / "w.duckdb", landing, progress=lambda _m: None)


def test_inspect_explains_a_national_layout_and_writes_nothing(tmp_path):
    from orchestration.inspect import inspect

    base = n041_folder(tmp_path)
    write_n041(base / "n041.dbf", n041_row("县人民医院", "B1", "1"),
               n041_row("县人民医院", "B2", "1", cysjs="25", id_no=ID_B, name=NAMES[1]))  # fmt: skip
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    text = inspect(base / "n041.dbf")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert "layout: inpatient_discharges_n041" in text
    assert re.search(
        r"org_code +<- USERNAME looked up as the register's org_name -> org_code", text
    )
    assert re.search(r"admit_time +<- RYSJ \(date\) \+ RYSJS \(hour\)", text)
    assert "read 2 = loaded 1 + quarantined 1 + duplicate 0" in text
    assert "admission_id=B1-1, org_code=01001" in text
    assert "1 x bad date-time in discharge_time" in text
    assert_nothing_personal(text, [ID_A, ID_B], NAMES[:2])


DOC = Path(__file__).resolve().parents[2] / "docs" / "landing-profiles.md"


def test_the_docs_list_every_shipped_profile_with_its_fields():
    text = DOC.read_text(encoding="utf-8")
    assert render_docs() in text
    for p in shipped():
        assert f"### `{p.name}` ({p.source})" in text


def test_the_worked_example_of_the_docs_lands_its_file(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    example = text.split("`<landing>/_profiles/vendor_his_outpatient.yml`, lands it:")[1]
    yml = example.split("```yaml\n")[1].split("```")[0]
    header = text.split("with the header\n`")[1].split("`")[0].replace("\n", "")
    landing = tmp_path / "landing"
    (landing / "_profiles").mkdir(parents=True)
    (landing / "_profiles" / "vendor_his_outpatient.yml").write_text(yml, encoding="utf-8")
    row = ["MZ001", "01001", "03", "2024-04-02", "9", "急诊", "否", ID_A, NAMES[0], "女",
           "1949-12-31", "J06.9", "12.50", "390"]  # fmt: skip
    csv_file(landing / "outpatient_visits" / "2024Q2" / "门诊流水.csv", header.split(","), [row])
    db, rep, said = land_quietly(tmp_path)
    assert audit_of(db, "门诊流水.csv")[:5] == (1, 1, 0, 0, "loaded")
    assert rows(
        db,
        "SELECT visit_id, visit_time::VARCHAR, visit_type, cancel_flag, sex, person_key, "
        "total_fee FROM raw.outpatient_visits",
    ) == [
        ("MZ001", "2024-04-02 09:00:00", "emergency", 0, "2", expected_hmac(ID_A), Decimal("12.50"))
    ]
    assert rows(db, "SELECT profile FROM raw.load_audit") == [("vendor_his_outpatient",)]


@pytest.mark.parametrize("p", shipped(), ids=lambda p: p.name)
def test_inspect_explains_every_shipped_layout(tmp_path, p):
    from orchestration.inspect import inspect

    src = contract.SOURCE_BY_NAME[p.source]
    fields = []
    for c in src.columns:
        rule = p.columns[c.name]
        fields += rule.fields[:1] if rule.kind in ("field", "lookup") else list(rule.fields)
    period = "2024" if src.frequency == "annual" else "2024Q2"
    path = tmp_path / "landing" / p.source / period / "export.csv"
    csv_file(path, fields, [["1"] * len(fields)])
    text = inspect(path)
    assert f"layout: {p.name} -- {p.description}" in text
    for c in src.columns:
        rule = p.columns[c.name]
        if rule.kind != "constant":
            assert re.search(rf"\n    {c.name} +<- {re.escape(rule.describe())}", text), c.name


def test_an_n041_facility_name_held_by_two_facilities_rejects_the_file(tmp_path):
    base = n041_folder(tmp_path)
    # a second facility of the register with the same name as 02001
    path = tmp_path / "landing" / "facilities" / "2024" / "register.csv"
    lines = path.read_text().splitlines()
    twin = lines[2].replace("02001", "02002", 1)
    path.write_text("\n".join([*lines, twin]) + "\n")
    write_n041(base / "n041.dbf", n041_row("城关镇卫生院", "B1", "1"))
    db, _, _ = land_quietly(tmp_path)
    read, loaded, _, _, status, message = audit_of(db, "n041.dbf")
    assert status == "rejected" and loaded == 0
    assert "name several facilities" in message and "城关镇卫生院" in message
