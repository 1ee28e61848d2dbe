"""Landing the files counties really send (issue 32): rows with more fields than the header,
totals and signature rows, Excel's damage in CSV (scientific notation, `="04"`), two-digit
years and date bounds, old 15-digit 身份证号, CR-only line ends, empty header cells, very wide
headers, skipped files in the audit, and identifiers or names in the wrong column. Each test
builds its files here and checks rows read = loaded + quarantined + duplicate, the exact values
landed, the reason, and that no identifier or name of the fixture is written anywhere in clear."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from test_land import (
    ID_A,
    ID_B,
    NAMES,
    OUT_COLS,
    audit,
    expected_hmac,
    rows,
    visit,
    write_csv,
)

from orchestration import contract
from orchestration.land import land

Q2 = "outpatient_visits/2024Q2"


pytestmark = pytest.mark.usefixtures("landing_key")


def land_quietly(tmp_path, **kw):
    """Land tmp_path/landing into tmp_path/w.duckdb; returns (db, report, progress lines)."""
    said: list[str] = []
    db = tmp_path / "w.duckdb"
    rep = land(db, tmp_path / "landing", progress=said.append, **kw)
    return db, rep, said


def csv_text(rows_: list[dict], cols=OUT_COLS) -> str:
    return (
        "\n".join([",".join(cols)] + [",".join(r.get(c, "") for c in cols) for r in rows_]) + "\n"
    )


def audit_of(db, suffix):
    """The file's one load_audit row; rows read = loaded + quarantined + duplicate if it loaded."""
    got = audit(db, suffix)
    read, loaded, quarantined, duplicate, status, _ = got
    if status == "loaded":
        assert read == loaded + quarantined + duplicate
    return got


def quarantine(db):
    return rows(db, "SELECT line, reason, record FROM raw.quarantine ORDER BY file, line")


def written_everywhere(db, rep, said) -> str:
    """Every text the landing wrote: every raw table (all columns as text), the report and the
    progress lines."""
    out = [rep.summary(verbose=True), *said]
    for (t,) in rows(
        db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
    ):
        out.append(str(rows(db, f'SELECT * FROM raw."{t}"')))
    return "\n".join(out)


def digit_forms(identifier: str) -> list[str]:
    """An identifier in the written forms that could leak: as is, its digits in runs of 6 or
    more (whatever separates them), full-width."""
    digits = re.sub(r"[^0-9X]", "", identifier)
    full = digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return [digits, digits[:6] + digits[6:14], digits[6:14] + digits[14:], full]


def assert_nothing_personal(text: str, identifiers=(), names=()):
    for ident in identifiers:
        for form in digit_forms(ident):
            assert form not in text, f"identifier form {form!r} written in clear"
        # runs of the identifier's digits as written with separators
        parts = re.findall(r"[0-9]{6,}", ident)
        for p in parts:
            assert p not in text, f"identifier part {p!r} written in clear"
    for name in names:
        assert name not in text, f"name {name!r} written in clear"


def gb11643(first17: str) -> str:
    """The check character of GB 11643-1999, from the standard's weights."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


# ── values that land wrong ─────────────────────────────────────────────────────────────────


def test_a_row_with_more_fields_than_the_header_is_quarantined_never_truncated(tmp_path):
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    good = csv_text([visit("1", fee="12.50"), visit("3", fee="7.00")])
    # line 3: an unquoted thousands separator in the last column, insutype -> two fields
    extra = ",".join(visit("2", fee="1,234.50")[c] for c in OUT_COLS)
    lines = good.splitlines()
    (base / "v.csv").write_text("\n".join([lines[0], lines[1], extra, lines[2]]) + "\n")
    db, rep, said = land_quietly(tmp_path)
    assert audit_of(db, "v.csv")[:5] == (3, 2, 1, 0, "loaded")
    assert rows(db, "SELECT visit_id, total_fee FROM raw.outpatient_visits ORDER BY 1") == [
        ("1", Decimal("12.5")),
        ("3", Decimal("7.0")),
    ]
    ((line, reason, _),) = quarantine(db)
    assert line == 3 and "more fields than the header" in reason


def test_a_row_with_more_fields_is_quarantined_in_a_batch_of_same_header_files(tmp_path):
    """Files sharing a header are read together; one with a long row must not be truncated."""
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    (base / "a.csv").write_text(csv_text([visit("1"), visit("2")]))
    lines = csv_text([visit("3")]).splitlines()
    (base / "b.csv").write_text(
        lines[0] + "\n" + lines[1] + ",99\n" + csv_text([visit("4")]).splitlines()[1] + "\n"
    )
    db, _, _ = land_quietly(tmp_path)
    assert audit_of(db, "a.csv")[:5] == (2, 2, 0, 0, "loaded")
    assert audit_of(db, "b.csv")[:5] == (2, 1, 1, 0, "loaded")
    assert [r[0] for r in rows(db, "SELECT visit_id FROM raw.outpatient_visits ORDER BY 1")] == [
        "1",
        "2",
        "4",
    ]


def test_totals_and_signature_rows_are_quarantined_as_what_they_are(tmp_path):
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    cols = ["序号", *OUT_COLS]
    data = [
        {"序号": "1", **visit("1", fee="10.00")},
        {"序号": "2", **visit("2", fee="20.00")},
        # the visit id column says 合计 and the fee is the file's sum
        {"序号": "", **visit("合计", fee="30.00", id_no="", patient_name="", birth="")},
        # 小计 with spaces in an unmapped column, everything else empty but the fee
        {"序号": " 小 计", "total_fee": "30.00"},
        # a footer: 制表人 and a name in the first cell, the rest empty
        {"序号": "制表人：" + NAMES[2]},
        {"序号": "审核人：" + NAMES[1] + "  填报日期：2024-07-05"},
    ]
    (base / "v.csv").write_text(csv_text(data, cols), encoding="utf-8")
    db, rep, said = land_quietly(tmp_path)
    assert audit_of(db, "v.csv")[:5] == (6, 2, 4, 0, "loaded")
    assert rows(db, "SELECT sum(total_fee) FROM raw.outpatient_visits") == [(Decimal("30.0"),)]
    reasons = {line: reason for line, reason, _ in quarantine(db)}
    assert "totals row" in reasons[4] and "totals row" in reasons[5]
    assert "signature or footer row" in reasons[6] and "signature or footer row" in reasons[7]
    assert_nothing_personal(written_everywhere(db, rep, said), names=NAMES[1:])


def test_a_roster_totals_row_with_the_income_sum_is_not_a_staff_member(tmp_path):
    cols = [c.name for c in contract.SOURCE_BY_NAME["personnel"].columns]
    staff = dict(org_code="01001", staff_id="S1", name=NAMES[0], id_no=ID_A, sex="1",
                 birth_date="1949-12-31", practice_type="11", title_post="3", on_post="1",
                 annual_income="91582.65")  # fmt: skip
    data = [staff, {**staff, "staff_id": "", "name": "合计", "id_no": "", "birth_date": "",
                    "annual_income": "91582.65"}]  # fmt: skip
    path = tmp_path / "landing" / "personnel" / "2024" / "roster.csv"
    path.parent.mkdir(parents=True)
    path.write_text(csv_text(data, cols), encoding="utf-8")
    db, _, _ = land_quietly(tmp_path)
    assert audit_of(db, "roster.csv")[:5] == (2, 1, 1, 0, "loaded")
    assert rows(db, "SELECT staff_id, annual_income FROM raw.personnel") == [
        ("S1", Decimal("91582.65"))
    ]
    assert "totals row" in quarantine(db)[0][1]


def test_excel_damage_in_csv_scientific_codes_quarantined_text_protection_unwrapped(tmp_path):
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    data = [
        visit("1", dept_code='="04"', dx_code='="I10"'),
        visit("2", id_no="1.10105E+17"),  # a 身份证号 Excel stored as a number
        visit("3", org_code="9.90121E+17"),
        visit("4"),
    ]
    # `="04"` as Excel writes it: quoted, inner quotes doubled
    text = csv_text(data).replace('="04"', '"=""04"""').replace('="I10"', '"=""I10"""')
    (base / "v.csv").write_text(text, encoding="utf-8")
    db, rep, said = land_quietly(tmp_path)
    assert audit_of(db, "v.csv")[:5] == (4, 2, 2, 0, "loaded")
    assert rows(
        db, "SELECT visit_id, dept_code, dx_code FROM raw.outpatient_visits ORDER BY 1"
    ) == [("1", "04", "I10"), ("4", "03", "J06.9")]
    reasons = {line: reason for line, reason, _ in quarantine(db)}
    assert "id_no in scientific notation" in reasons[3]
    assert "org_code in scientific notation" in reasons[4]
    # the number Excel made of the identifier is never a person key
    assert rows(db, "SELECT count(*) FROM raw.outpatient_visits WHERE person_key IS NULL") == [(0,)]


def test_two_digit_years_and_implausible_dates_in_every_date_column_are_quarantined(tmp_path):
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    data = [
        visit("1", visit_time="24-04-02 08:30:00"),  # year 0024
        visit("2", birth="49-12-31"),
        visit("3", visit_time="2024-04-02 08:30:00"),
    ]
    (base / "v.csv").write_text(csv_text(data), encoding="utf-8")
    cols = [c.name for c in contract.SOURCE_BY_NAME["dispatches"].columns]
    d = dict(dispatch_id="D1", physician_id_no=ID_B, physician_name=NAMES[1], home_org_code="01",
             home_org_level="2", home_county_code="990121", title_post="3", practice_type="11",
             host_org_code="02", start_date="2024-01-01", end_date="2024-12-31",
             dispatch_type="long_term")  # fmt: skip
    ledger = [
        d,
        {**d, "dispatch_id": "D2", "start_date": "24-01-01"},  # two-digit year
        {**d, "dispatch_id": "D3", "end_date": "2029-06-30"},  # a planned end: plausible
        {**d, "dispatch_id": "D4", "start_date": "1890-01-01"},
        {**d, "dispatch_id": "D5", "end_date": "2099-12-31"},  # beyond any plan
    ]
    path = tmp_path / "landing" / "dispatches" / "2024" / "ledger.csv"
    path.parent.mkdir(parents=True)
    path.write_text(csv_text(ledger, cols), encoding="utf-8")
    db, _, _ = land_quietly(tmp_path)
    assert audit_of(db, "v.csv")[:5] == (3, 1, 2, 0, "loaded")
    assert audit_of(db, "ledger.csv")[:5] == (5, 2, 3, 0, "loaded")
    assert rows(db, "SELECT dispatch_id, end_date::VARCHAR FROM raw.dispatches ORDER BY 1") == [
        ("D1", "2024-12-31"),
        ("D3", "2029-06-30"),
    ]
    got = {(r[1].split(":")[0]) for r in rows(db, "SELECT file, reason FROM raw.quarantine")}
    assert got == {
        "implausible visit_time",
        "implausible birth_date",
        "implausible start_date",
        "implausible end_date",
    }


def test_an_old_15_digit_id_is_hashed_as_its_18_digit_form(tmp_path):
    # ID_A = 110105 19491231 002 X: its 15-digit form drops the century and the check character
    old = ID_A[:6] + ID_A[8:17]
    assert len(old) == 15 and gb11643(ID_A[:17]) == ID_A[17]
    # another 15-digit number whose 18-digit form is worked out here
    other15 = "990121711114001"
    other18 = "990121" + "19" + "711114001"
    other18 += gb11643(other18)
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    data = [visit("1", id_no=ID_A), visit("2", id_no=old), visit("3", id_no=other15)]
    (base / "v.csv").write_text(csv_text(data), encoding="utf-8")
    db, rep, said = land_quietly(tmp_path)
    got = dict(rows(db, "SELECT visit_id, person_key FROM raw.outpatient_visits"))
    assert got["1"] == got["2"] == expected_hmac(ID_A)
    assert got["3"] == expected_hmac(other18)
    assert rows(db, "SELECT bool_and(person_key_valid) FROM raw.outpatient_visits") == [(True,)]
    assert_nothing_personal(written_everywhere(db, rep, said), [ID_A, other15, other18])


# ── files lost or runs stopped ─────────────────────────────────────────────────────────────


def test_cr_only_line_ends_load_every_row_with_its_line(tmp_path):
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    text = csv_text([visit("1"), visit("2", fee="1.5.0"), visit("3")])
    (base / "mac.csv").write_bytes(text.replace("\n", "\r").encode())
    (base / "gbk.csv").write_bytes(
        csv_text([visit("4", name="王五")]).replace("\n", "\r").encode("gb18030")
    )
    db, _, _ = land_quietly(tmp_path)
    assert audit_of(db, "mac.csv")[:5] == (3, 2, 1, 0, "loaded")
    assert audit_of(db, "gbk.csv")[:5] == (1, 1, 0, 0, "loaded")
    assert rows(db, "SELECT visit_id, _line FROM raw.outpatient_visits ORDER BY 1") == [
        ("1", 2),
        ("3", 4),
        ("4", 2),
    ]
    assert [(line, "bad amount" in reason) for line, reason, _ in quarantine(db)] == [(3, True)]


def test_empty_header_cells_are_ignored_when_empty_and_named_by_position_when_not(tmp_path):
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    lines = csv_text([visit("1"), visit("2"), visit("3")]).splitlines()
    # Excel's trailing `,,,,` on every line, and in b.csv one row with a value under no header
    (base / "a.csv").write_text("\n".join(x + ",,,," for x in lines) + "\n")
    lines_b = csv_text([visit("4"), visit("5")]).splitlines()
    (base / "b.csv").write_text(lines_b[0] + ",,\n" + lines_b[1] + ",,\n" + lines_b[2] + ",,x\n")
    db, rep, said = land_quietly(tmp_path)
    read, loaded, quarantined, _, status, message = audit_of(db, "a.csv")
    assert (read, loaded, quarantined, status) == (3, 3, 0, "loaded")
    assert "4 column(s) without a header name ignored" in message
    assert audit_of(db, "b.csv")[:5] == (2, 1, 1, 0, "loaded")
    ((line, reason, _),) = quarantine(db)
    assert line == 3 and reason == f"value in column {len(OUT_COLS) + 2}, which has no header name"


def test_a_very_wide_header_is_rejected_by_name_and_the_files_beside_it_land(tmp_path):
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    (base / "wide.csv").write_text(",".join(f"c{i}" for i in range(16_384)) + "\n1\n")
    # 3,000 columns holding the contract's: read, the extra ones ignored
    extra = [f"x{i}" for i in range(3_000 - len(OUT_COLS))]
    (base / "broad.csv").write_text(
        ",".join(OUT_COLS + extra)
        + "\n"
        + ",".join([visit("9")[c] for c in OUT_COLS] + [""] * len(extra))
        + "\n"
    )
    (base / "good.csv").write_text(csv_text([visit("1")]))
    db, rep, _ = land_quietly(tmp_path)
    read, loaded, _, _, status, message = audit_of(db, "wide.csv")
    assert status == "rejected" and loaded == 0
    assert "16,384 columns" in message and "wide.csv" in message
    assert audit_of(db, "good.csv")[:5] == (1, 1, 0, 0, "loaded")
    assert audit_of(db, "broad.csv")[:5] == (1, 1, 0, 0, "loaded")


def test_files_not_read_are_listed_in_the_audit_and_the_summary(tmp_path):
    base = tmp_path / "landing" / Q2
    write_csv(base / "v.csv", [visit("1")])
    (base / "v.csv.bak").write_text("old copy")
    (base / "export.et").write_text("WPS sheet")
    db, rep, _ = land_quietly(tmp_path)
    got = rows(
        db,
        "SELECT file, status, rows_read, message FROM raw.load_audit WHERE status = 'skipped' ORDER BY 1",
    )
    assert [(f.split("/")[-1], s, n) for f, s, n, _ in got] == [
        ("export.et", "skipped", 0),
        ("v.csv.bak", "skipped", 0),
    ]
    assert "not a .csv/" in got[0][3]
    summary = rep.summary()
    assert "export.et" in summary and "v.csv.bak" in summary


# ── leaks ──────────────────────────────────────────────────────────────────────────────────


def test_identifiers_and_names_in_the_wrong_column_are_never_written_in_clear(tmp_path):
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    dashed = f"{ID_B[:6]}-{ID_B[6:14]}-{ID_B[14:]}"
    spaced = f"{ID_B[:6]} {ID_B[6:14]} {ID_B[14:]}"
    full = ID_B.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    data = [
        visit("1", birth=dashed),  # an identifier with separators in a date column
        visit("2", visit_time=spaced),
        visit("3", total_fee=full),
        visit("4", sex=NAMES[0]),  # a name in a code column (headers swapped)
        visit("5", visit_type=NAMES[1]),
        visit("6", dx_code=dashed),  # an identifier in a free code column loads hashed
        visit("7"),
    ]
    (base / "v.csv").write_text(csv_text(data), encoding="utf-8")
    db, rep, said = land_quietly(tmp_path)
    assert audit_of(db, "v.csv")[:5] == (7, 2, 5, 0, "loaded")
    assert rows(db, "SELECT dx_code FROM raw.outpatient_visits WHERE visit_id = '6'") == [
        (expected_hmac(ID_B),)
    ]
    reasons = [r for _, r, _ in quarantine(db)]
    assert "bad date in birth_date" in reasons[0] and "<hidden" in reasons[0]
    assert "unknown code in sex" in reasons[3] and "<hidden: Chinese text>" in reasons[3]
    assert_nothing_personal(written_everywhere(db, rep, said), [ID_A, ID_B], NAMES)


def test_a_roster_whose_staff_id_is_the_id_number_stores_only_its_hash(tmp_path):
    cols = [c.name for c in contract.SOURCE_BY_NAME["personnel"].columns]
    staff = dict(org_code="01001", staff_id=ID_A, name=NAMES[0], id_no=ID_A, sex="男",
                 birth_date="1949-12-31", practice_type="11", title_post="3", on_post="是",
                 annual_income="5000.00")  # fmt: skip
    other = {**staff, "staff_id": "0042", "name": NAMES[1], "id_no": ID_B, "sex": "女",
             "on_post": "否"}  # fmt: skip
    spaced = {**staff, "staff_id": f"{ID_B[:6]} {ID_B[6:]}", "name": NAMES[2], "id_no": ID_B}
    path = tmp_path / "landing" / "personnel" / "2024" / "roster.csv"
    path.parent.mkdir(parents=True)
    path.write_text(csv_text([staff, other, spaced], cols), encoding="utf-8")
    db, rep, said = land_quietly(tmp_path)
    assert audit_of(db, "roster.csv")[:5] == (3, 3, 0, 0, "loaded")
    got = rows(db, "SELECT staff_id, person_key, sex, on_post FROM raw.personnel ORDER BY _line")
    assert got == [
        (expected_hmac(ID_A), expected_hmac(ID_A), "1", 1),
        ("0042", expected_hmac(ID_B), "2", 0),
        (expected_hmac(ID_B), expected_hmac(ID_B), "1", 1),
    ]
    assert_nothing_personal(written_everywhere(db, rep, said), [ID_A, ID_B], NAMES)
