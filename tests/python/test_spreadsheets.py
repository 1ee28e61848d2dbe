"""Spreadsheet and DBF readers (issues 32 and 33): workbooks land as Excel shows them (the
visible active sheet, the 1904 date system, merged cells filled down, number cells at 15
significant digits, date cells as dates), legacy .xls the same, dBase tables in their code page.
Every fixture is built here; the expected values are worked out by hand from what is written."""

from __future__ import annotations

import datetime as dt
import math
import struct
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from test_land import ID_A, ID_B, NAMES, audit, expected_hmac, quiet, rows

from orchestration import contract, duck
from orchestration.land import land
from orchestration.land.excel import number_text
from orchestration.land.read import numeric_codes, read_file

PCOLS = [c.name for c in contract.SOURCE_BY_NAME["personnel"].columns]
P24 = "personnel/2024"
# A double that Excel's arithmetic gives for 91582.65 (a sum of its parts): not the nearest
# double, its shortest repr is 91582.64999999998; Excel shows 91582.65 (15 significant digits).
NEAR = math.nextafter(91582.65, 0)


pytestmark = pytest.mark.usefixtures("landing_key")


def staff(staff_id, org="01001", id_no=ID_A, name=NAMES[0], sex="1", birth=dt.date(1980, 2, 29),
          practice="11", title="3", on_post="1", income=91582.65) -> list:  # fmt: skip
    return [org, staff_id, name, id_no, sex, birth, practice, title, on_post, income]


def conserved(db, file_suffix) -> tuple:
    """The file's load_audit row; rows read = loaded + quarantined + duplicate when it loaded,
    nothing loaded from it when it was rejected (its rows are counted as read where they could
    be counted)."""
    r = audit(db, file_suffix)
    if r[4] == "loaded":
        assert r[0] == r[1] + r[2] + r[3], r
    else:
        assert r[1:4] == (0, 0, 0), r
    return r


def clear_text(db, needles: list[str]) -> list[tuple[str, str]]:
    """(table, needle) for every needle found in any text of raw.* (data, quarantine, audit)."""
    con = duck.connect(db)
    try:
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
        ).fetchall()
        found = []
        for (t,) in tables:
            text = str(con.execute(f'SELECT * FROM raw."{t}"').fetchall())
            found += [(t, n) for n in needles if n in text]
        return found
    finally:
        con.close()


def personnel(db) -> dict[str, tuple]:
    got = rows(
        db,
        "SELECT staff_id, org_code, person_key, sex, birth_date, on_post, annual_income, _line "
        "FROM raw.personnel",
    )
    return {r[0]: r[1:] for r in got}


# ── number text ──────────────────────────────────────────────────────────────────────────────


def test_number_cells_read_at_excels_15_significant_digits():
    assert number_text(NEAR) == "91582.65" and repr(NEAR) == "91582.64999999998"
    assert number_text(0.1 + 0.2) == "0.3"
    assert number_text(100000.0) == "100000"
    assert number_text(12) == "12"
    assert number_text(1e-05) == "0.00001"
    assert number_text(-0.0) == "0"
    assert number_text(-1234.5) == "-1234.5"
    assert number_text(1234567890123456.0) == "1234567890123460"


# ── .xlsx ────────────────────────────────────────────────────────────────────────────────────


def personnel_workbook(*staff_rows: list) -> openpyxl.Workbook:
    """A workbook of one sheet: the personnel header on line 1, then these rows."""
    wb = openpyxl.Workbook()
    wb.active.append(PCOLS)
    for row in staff_rows:
        wb.active.append(row)
    return wb


def roster_workbook(path: Path) -> None:
    """A roster as a county office saves it: an old hidden sheet first, a visible notes sheet,
    the data on the active sheet (two empty rows above the header); the 1904 date system; the
    facility code merged down a block; money as doubles."""
    wb = openpyxl.Workbook()
    wb.epoch = CALENDAR_MAC_1904
    old = wb.active
    old.title = "旧表"
    old.append(PCOLS)
    old.append(staff("H1"))
    old.sheet_state = "hidden"
    notes = wb.create_sheet("说明")
    notes.append(["填表说明"])
    notes.append(["年收入单位为元"])
    ws = wb.create_sheet("花名册")
    ws.append([])
    ws.append([])
    ws.append(PCOLS)  # line 3
    ws.append(staff("S1", on_post=True, income=NEAR))  # line 4
    ws.append(staff("S2", org=None, id_no=ID_B, name=NAMES[1], sex="2",  # line 5
                    birth=dt.datetime(1975, 6, 1, 0, 0), practice="21", title="4"))  # fmt: skip
    ws.append(staff("S3", org=None, name=NAMES[2], birth="1990-02-30", income=100000))  # line 6
    ws.append([])  # line 7: blank
    ws.append(staff("S4", org="01002", income=0.1 + 0.2))  # line 8
    ws.append(staff("S4", org="01002", income=0.1 + 0.2))  # line 9: exact duplicate
    ws.merge_cells("A4:A6")
    wb.active = 2
    wb.save(path)


def test_xlsx_lands_as_excel_shows_it(tmp_path):
    base = tmp_path / "landing" / P24
    base.mkdir(parents=True)
    roster_workbook(base / "roster.xlsx")
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    # 5 non-blank data rows: S1, S2, S4 load, S3 is quarantined, S4's copy is a duplicate
    assert conserved(db, "roster.xlsx")[:5] == (5, 3, 1, 1, "loaded")
    got = personnel(db)
    assert set(got) == {"S1", "S2", "S4"}  # the hidden sheet's H1 never lands
    a, b = expected_hmac(ID_A), expected_hmac(ID_B)
    assert got["S1"] == ("01001", a, "1", dt.date(1980, 2, 29), 1, Decimal("91582.65"), 4)
    assert got["S2"] == ("01001", b, "2", dt.date(1975, 6, 1), 1, Decimal("91582.65"), 5)
    assert got["S4"] == ("01002", a, "1", dt.date(1980, 2, 29), 1, Decimal("0.30"), 8)
    q = rows(db, "SELECT file, line, reason, record FROM raw.quarantine")
    assert len(q) == 1 and q[0][:2] == (f"{P24}/roster.xlsx", 6)
    assert "birth_date" in q[0][2]
    assert '"org_code":"01001"' in q[0][3].replace(" ", "")  # merged block filled down to S3
    assert clear_text(db, [*NAMES, ID_A, ID_B]) == []


def test_several_visible_data_sheets_reject_the_file_naming_them(tmp_path):
    base = tmp_path / "landing" / P24
    base.mkdir(parents=True)
    wb = openpyxl.Workbook()
    first = wb.active
    first.title = "上半年"
    first.append(PCOLS)
    first.append(staff("S1"))
    second = wb.create_sheet("下半年")
    second.append(PCOLS)
    second.append(staff("S2", name=NAMES[1]))
    wb.save(base / "split.xlsx")
    wb = personnel_workbook(staff("S3", name=NAMES[2]))
    wb.active.sheet_state = "hidden"
    wb.create_sheet("空白")
    wb.active = 1
    wb.save(base / "hidden.xlsx")
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    r = conserved(db, "split.xlsx")
    assert r[4] == "rejected" and "'上半年'" in r[5] and "'下半年'" in r[5]
    r = conserved(db, "hidden.xlsx")
    assert r[4] == "rejected" and "no visible sheet holds data" in r[5]
    assert rows(db, "SELECT count(*) FROM raw.personnel") == [(0,)]
    assert clear_text(db, [*NAMES, ID_A]) == []


def test_identifier_or_code_in_number_cells_rejects_the_file_and_never_becomes_a_key(tmp_path):
    base = tmp_path / "landing" / P24
    base.mkdir(parents=True)
    # a 身份证号 typed as a number: line 3
    personnel_workbook(staff("S1"), staff("S2", id_no=int(ID_B))).save(base / "idnum.xlsx")
    # staff_id 0009 typed as a number: line 4
    personnel_workbook(staff("0007"), staff("0008"), staff(9)).save(base / "staffnum.xlsx")
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    r = conserved(db, "idnum.xlsx")
    assert r[4] == "rejected" and "id_no (number cells from line 3)" in r[5]
    r = conserved(db, "staffnum.xlsx")
    assert r[4] == "rejected" and "staff_id (number cells from line 4)" in r[5]
    assert rows(db, "SELECT count(*) FROM raw.personnel") == [(0,)]
    assert clear_text(db, [*NAMES, ID_A, ID_B, expected_hmac(ID_B)]) == []


def test_header_merged_down_into_the_data_rejects_the_file(tmp_path):
    base = tmp_path / "landing" / P24
    base.mkdir(parents=True)
    wb = personnel_workbook(staff("S1"))
    wb.active.merge_cells("A1:A2")
    wb.save(base / "twoline.xlsx")
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    r = conserved(db, "twoline.xlsx")
    assert r[4] == "rejected" and "header cell A1 is merged down" in r[5]


# ── .xls ─────────────────────────────────────────────────────────────────────────────────────


def test_legacy_xls_lands_like_xlsx(tmp_path):
    xlwt = pytest.importorskip("xlwt", reason="xlwt (writes the .xls fixtures) is a dev extra")
    base = tmp_path / "landing" / P24
    base.mkdir(parents=True)
    date = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    wb = xlwt.Workbook(encoding="utf-8")
    wb.dates_1904 = True
    notes = wb.add_sheet("说明")
    notes.write(0, 0, "填表说明")
    old = wb.add_sheet("旧表")
    old.visibility = 1  # hidden
    for j, c in enumerate(PCOLS):
        old.write(0, j, c)
    ws = wb.add_sheet("花名册")
    for j, c in enumerate(PCOLS):
        ws.write(0, j, c)
    data = [
        staff("S1", income=NEAR),
        staff("S2", id_no=ID_B, name=NAMES[1], sex="2", birth=dt.date(1975, 6, 1)),
        staff("S3", name=NAMES[2], birth="1990-02-30", income=100000),
        staff("S4", income=0.1 + 0.2),
    ]
    for i, r in enumerate(data, start=1):
        for j, v in enumerate(r):
            if j == 0:
                continue  # org_code: one merged block below
            ws.write(i, j, v, date) if isinstance(v, dt.date) else ws.write(i, j, v)
    ws.write_merge(1, 4, 0, 0, "01001")
    wb.set_active_sheet(2)
    wb.save(str(base / "roster.xls"))
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    assert conserved(db, "roster.xls")[:5] == (4, 3, 1, 0, "loaded")
    got = personnel(db)
    a, b = expected_hmac(ID_A), expected_hmac(ID_B)
    assert got["S1"] == ("01001", a, "1", dt.date(1980, 2, 29), 1, Decimal("91582.65"), 2)
    assert got["S2"] == ("01001", b, "2", dt.date(1975, 6, 1), 1, Decimal("91582.65"), 3)
    assert got["S4"] == ("01001", a, "1", dt.date(1980, 2, 29), 1, Decimal("0.30"), 5)
    q = rows(db, "SELECT file, line, reason FROM raw.quarantine")
    assert q[0][:2] == (f"{P24}/roster.xls", 4) and "birth_date" in q[0][2]
    assert clear_text(db, [*NAMES, ID_A, ID_B]) == []


# ── .dbf ─────────────────────────────────────────────────────────────────────────────────────


def write_dbf(path: Path, fields: list[tuple[str, str, int, int]], records: list[tuple[bool, list]],
              language_driver: int = 0, encoding: str = "gbk") -> None:  # fmt: skip
    """A dBase III table: fields (name, type C/N/D/L, length, decimals), records (deleted?,
    values as text, written left-aligned for C and right-aligned for N)."""
    recordlen = 1 + sum(f[2] for f in fields)
    headerlen = 32 + 32 * len(fields) + 1
    out = bytearray(
        struct.pack("<BBBBIHH", 0x03, 124, 1, 1, len(records), headerlen, recordlen)
        + bytes(17)
        + bytes([language_driver, 0, 0])
    )
    for name, typ, length, dec in fields:
        out += name.encode("ascii").ljust(11, b"\0") + typ.encode() + bytes(4)
        out += bytes([length, dec]) + bytes(14)
    out += b"\r"
    for deleted, values in records:
        out += b"*" if deleted else b" "
        for (_, typ, length, _), v in zip(fields, values, strict=True):
            data = v.encode(encoding)
            out += data.rjust(length) if typ == "N" else data.ljust(length)
    out += b"\x1a"
    path.write_bytes(bytes(out))


FIELDS = [("BAH", "C", 10, 0), ("XM", "C", 10, 0), ("ZYCS", "N", 3, 0), ("CSRQ", "D", 8, 0),
          ("ZFY", "N", 12, 2), ("SW", "L", 1, 0), ("RYKB", "C", 8, 0)]  # fmt: skip


def read_rows(path: Path, tmp: Path) -> tuple[list[tuple], list[str], tuple]:
    con = duck.connect()
    try:
        got = read_file(con, path, "dbf", tmp)
        names = [r[0] for r in con.execute("DESCRIBE file_rows").fetchall()]
        data = con.execute("SELECT rowid + 2 + ?, * FROM file_rows ORDER BY rowid", [len(got[1])])
        return data.fetchall(), names, got
    finally:
        con.close()


def test_dbf_reads_gbk_text_exact_numbers_dates_and_keeps_record_lines(tmp_path):
    p = tmp_path / "n041.dbf"
    write_dbf(
        p,
        FIELDS,
        [
            (False, ["0000123", NAMES[0], "1", "19800229", "91582.65", "T", "内科"]),
            (True, ["0000124", NAMES[1], "2", "19810101", "100.00", "F", "外科"]),  # deleted
            (False, ["0000125", NAMES[2], "", "        ", "0.30", " ", "中医科"]),
        ],
    )
    got, names, (encoding, skipped, malformed, _) = read_rows(p, tmp_path)
    assert names == [f[0] for f in FIELDS] and encoding == "GBK" and skipped == []
    assert got == [
        (2, "0000123", NAMES[0], "1", "1980-02-29", "91582.65", "1", "内科"),
        (3, None, None, None, None, None, None, None),  # deleted: a blank row, line kept
        (4, "0000125", NAMES[2], None, None, "0.30", None, "中医科"),
    ]
    # the language-driver byte for GBK (0x4D) reads the same
    write_dbf(p, FIELDS, [(False, ["1", NAMES[0], "1", "19800229", "1.00", "F", "内科"])], 0x4D)
    assert read_rows(p, tmp_path)[0][0][2] == NAMES[0]


def test_dbf_language_driver_byte_naming_another_code_page_is_honoured(tmp_path):
    p = tmp_path / "big5.dbf"
    write_dbf(
        p, FIELDS, [(False, ["1", "張三", "1", "19800229", "1.00", "T", "醫院"])], 0x78, "big5"
    )
    got, _, (encoding, *_) = read_rows(p, tmp_path)
    assert encoding == "cp950" and got[0][2] == "張三" and got[0][7] == "醫院"


def test_dbf_code_in_a_numeric_field_is_a_number_column(tmp_path):
    p = tmp_path / "n041.dbf"
    write_dbf(
        p,
        [("ORG_CODE", "N", 8, 0), ("STAFF_ID", "C", 8, 0), ("SEX", "N", 1, 0)],
        [(False, ["", "7", "1"]), (False, ["1001", "8", "2"])],
    )
    con = duck.connect()
    try:
        read_file(con, p, "dbf", tmp_path)
        src = contract.SOURCE_BY_NAME["personnel"]
        by_norm = {"org_code": "ORG_CODE", "staff_id": "STAFF_ID", "sex": "SEX"}
        # org_code's first value is on line 3; sex is an enum (a wrong form is quarantined)
        assert numeric_codes(src, by_norm, {}, p, "dbf", con) == [
            "org_code (number cells from line 3)"
        ]
    finally:
        con.close()


def test_dbf_lands_and_an_unmappable_one_is_rejected_without_content(tmp_path):
    base = tmp_path / "landing" / P24
    base.mkdir(parents=True)
    write_dbf(
        base / "roster.dbf",
        [
            ("ORG_CODE", "C", 8, 0),
            ("STAFF_ID", "C", 8, 0),
            ("NAME", "C", 10, 0),
            ("ID_NO", "C", 18, 0),
            ("SEX", "C", 1, 0),
        ],  # fmt: skip
        [
            (False, ["01001", "S1", NAMES[0], ID_A, "1"]),
            (False, ["01001", "S2", NAMES[1], ID_B, "2"]),
        ],
    )
    (base / "notes.dbf").write_bytes(b"\x03 not a table")
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    # dBase field names hold 10 characters: practice_type etc. cannot be named (a profile maps
    # the national layouts' short names); the file is rejected naming the missing columns
    r = conserved(db, "roster.dbf")
    assert r[4] == "rejected" and r[0] == 2 and "practice_type" in r[5]
    r = conserved(db, "notes.dbf")
    assert r[4] == "rejected" and "not a readable DBF table" in r[5]
    assert clear_text(db, [*NAMES, ID_A, ID_B]) == []


def test_generated_roster_stores_money_as_excel_does_and_lands_exact(tmp_path):
    import zipfile

    import pandas as pd

    from orchestration.generate.writer import FileSpec, _write_one

    texts = [
        ["01001", "S1", NAMES[0], ID_A, "1", "1980-02-29", "11", "3", "1", "91582.65"],
        ["01001", "S2", NAMES[1], ID_B, "2", "1975-06-01", "21", "4", "0", ""],
    ]
    path = tmp_path / "landing" / P24 / "gen.xlsx"
    _write_one(path, pd.DataFrame(texts, columns=PCOLS), FileSpec("gen.xlsx", None, fmt="xlsx"))
    ws = openpyxl.load_workbook(path).active
    assert ws["J2"].data_type == "n" and ws["J2"].value == 91582.65 and ws["J3"].value is None
    assert ws["A2"].data_type == "s"  # codes stay text
    with zipfile.ZipFile(path) as z:  # the double as Excel writes it, not the decimal text
        assert b"<v>91582.64999999999</v>" in z.read("xl/worksheets/sheet1.xml")
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    assert conserved(db, "gen.xlsx")[:5] == (2, 2, 0, 0, "loaded")
    got = personnel(db)
    assert got["S1"][5] == Decimal("91582.65") and got["S2"][5] is None
