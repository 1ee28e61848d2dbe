"""Landing: encodings, formats, typed parse, quarantine, rejection, duplicates, re-landing,
keyed hashing. Small fixture files built here; runs in seconds."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib.util
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from orchestration import contract, duck, settings
from orchestration.generate import generate, ids
from orchestration.land import (
    DATE_FORMATS,
    TIMESTAMP_FORMATS,
    create_raw_schema,
    gb11643_sql,
    land,
    sniff_encoding,
    strptime_sql,
    trimmed_sql,
)
from orchestration.land.parse import excess_decimals_sql

KEY = b"test-key-for-landing"
# valid 身份证号 (GB 11643 check digit right) and one with a wrong check digit
ID_A = "11010519491231002X"
ID_B = "440524188001010014"
ID_BAD = "110105194912310021"
NAMES = ["张三丰", "李四光", "王五"]
OUT_COLS = [c.name for c in contract.SOURCE_BY_NAME["outpatient_visits"].columns]


pytestmark = pytest.mark.usefixtures("landing_key")


def visit(
    visit_id,
    visit_time="2024-04-02 08:30:00",
    id_no=ID_A,
    name=NAMES[0],
    fee="12.50",
    visit_type="outpatient",
    birth="1949-12-31",
    **kw,
) -> dict:
    row = dict(
        visit_id=visit_id,
        org_code="01001",
        dept_code="03",
        visit_time=visit_time,
        visit_type=visit_type,
        cancel_flag="0",
        id_no=id_no,
        patient_name=name,
        sex="1",
        birth_date=birth,
        dx_code="J06.9",
        total_fee=fee,
        insutype="390",
    )
    row.update(kw)
    return row


def write_csv(path: Path, rows: list[dict], encoding="utf-8", cols=None, bom=False, extra=None):
    cols = cols or OUT_COLS
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(cols + ([extra] if extra else []))]
    for r in rows:
        lines.append(",".join([r.get(c, "") for c in cols] + (["junk"] if extra else [])))
    data = ("\n".join(lines) + "\n").encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def open_db(db: Path):
    return duck.connect(db)


def rows(db, sql, params=None):
    con = open_db(db)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def audit(db, file_suffix):
    r = rows(
        db,
        "SELECT rows_read, rows_loaded, rows_quarantined, rows_duplicate, status, message "
        "FROM raw.load_audit WHERE file LIKE ?",
        ["%" + file_suffix],
    )
    assert len(r) == 1, r
    return r[0]


def quiet(_msg):
    pass


def expected_hmac(identifier: str) -> str:
    return hmac.new(KEY, identifier.encode(), hashlib.sha256).hexdigest()


# ── encodings and formats ──────────────────────────────────────────────────────────────────


def test_encodings_and_formats_load_the_same_rows(tmp_path):
    landing = tmp_path / "landing"
    base = landing / "outpatient_visits" / "2024Q2"
    write_csv(base / "a_utf8.csv", [visit("A1", name=NAMES[0])])
    write_csv(base / "b_bom.csv", [visit("B1", name=NAMES[1])], bom=True)
    write_csv(
        base / "c_gbk.csv", [visit("C1", name=NAMES[2], org_code="0人民医院")], encoding="gbk"
    )
    # a GBK file whose first MB is pure ASCII: the sniff says UTF-8, the reader must recover
    big = [visit(f"D{i:06d}") for i in range(9000)] + [visit("D_last", org_code="中医院")]
    write_csv(base / "d_late_gbk.csv", big, encoding="gb18030")
    assert sniff_encoding(base / "c_gbk.csv") == "gb18030"
    assert sniff_encoding(base / "b_bom.csv") == "utf-8"

    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(OUT_COLS)
    ws.append([visit("E1")[c] for c in OUT_COLS])
    r = visit("E2")
    r["visit_time"] = dt.datetime(2024, 5, 6, 7, 8, 9)  # real Excel date cells
    r["birth_date"] = dt.date(1949, 12, 31)
    ws.append([r[c] for c in OUT_COLS])
    wb.save(base / "e.xlsx")
    pq.write_table(pa.table({c: [visit("F1")[c]] for c in OUT_COLS}), base / "f.parquet")

    db = tmp_path / "w.duckdb"
    rep = land(db, landing, progress=quiet)
    assert rep.ok and not rep.rejected_files, rep.summary()
    got = dict(rows(db, "SELECT visit_id, org_code FROM raw.outpatient_visits"))
    assert got["C1"] == "0人民医院" and got["D_last"] == "中医院" and got["A1"] == "01001"
    assert len(got) == 9000 + 1 + 5 + 1
    enc = {f.file.split("/")[-1]: f.encoding for f in rep.files}
    assert (
        enc["c_gbk.csv"] == "GB18030"
        and enc["d_late_gbk.csv"] == "GB18030"
        and enc["a_utf8.csv"] == "UTF-8"
    )
    e2 = rows(
        db, "SELECT visit_time, birth_date, _line FROM raw.outpatient_visits WHERE visit_id = 'E2'"
    )[0]
    assert e2 == (dt.datetime(2024, 5, 6, 7, 8, 9), dt.date(1949, 12, 31), 3)
    assert rows(db, "SELECT _line FROM raw.outpatient_visits WHERE visit_id = 'F1'") == [(2,)]
    assert rows(db, "SELECT _line FROM raw.outpatient_visits WHERE visit_id = 'D_last'") == [
        (9002,)
    ]


def test_mixed_date_formats_parse_to_the_same_dates(tmp_path):
    landing = tmp_path / "landing"
    f = landing / "outpatient_visits" / "2024Q2" / "v.csv"
    write_csv(
        f,
        [
            visit("1", visit_time="2024-04-02 08:30:00", birth="1949-12-31"),
            visit("2", visit_time="2024-04-02T08:30:00", birth="19491231"),
            visit("3", visit_time="2024/04/02 08:30:00", birth="1949/12/31"),
            visit("4", visit_time="2024-04-02", birth=" 1949-12-31 "),
        ],
    )
    db = tmp_path / "w.duckdb"
    land(db, landing, progress=quiet)
    got = rows(
        db, "SELECT visit_id, visit_time, birth_date FROM raw.outpatient_visits ORDER BY visit_id"
    )
    assert [g[2] for g in got] == [dt.date(1949, 12, 31)] * 4
    assert [g[1] for g in got] == [dt.datetime(2024, 4, 2, 8, 30)] * 3 + [dt.datetime(2024, 4, 2)]


def test_guarded_strptime_equals_duckdbs_format_list():
    # strptime_sql only skips formats whose separators differ from the value's; DuckDB's own
    # try_strptime(value, [list]) is the oracle, on every format plus near misses
    values = [
        "2024-04-02 08:30:00",
        "2024-04-02 08:30:00.25",
        "2024-04-02 08:30",
        "2024-04-02",
        "2024/04/02 08:30:00",
        "2024/04/02 08:30:00.5",
        "2024/04/02 08:30",
        "2024/04/02",
        "20240402 08:30:00",
        "20240402083000",
        "20240402",
        "2024-4-2 8:30:00",
        "2024/4/2",
        "2024-04-02  08:30:00",
        "2024-02-30",
        "2024-13-01 00:00:00",
        "20241301",
        "2024-04-02 24:00:00",
        "2024-04-02 08:30:00+08",
        "2024-04-0208:30:00",
        "202404020830",
        "2024.04.02",
        "04/02/2024",
        "bad",
        "",
        "2024",
        "2024-04-02 08:30:00.1234567",
        "2024/04-02",
        "20240402.5",
        "2024:04:02",
        "2024-04-02.",
        "-2024-04-02",
        "20240402 0830",
        None,
    ]
    con = duck.connect(":memory:")
    con.execute("CREATE TABLE v (x VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?)", [[x] for x in values])
    for formats in (DATE_FORMATS, TIMESTAMP_FORMATS):
        listed = "[" + ", ".join(f"'{f}'" for f in formats) + "]"
        got = con.execute(
            f"SELECT x, try_strptime(x, {listed}) AS want, {strptime_sql('x', formats)} AS got "
            f"FROM v"
        ).fetchall()
        assert [(x, w) for x, w, _ in got] == [(x, g) for x, _, g in got]
        assert sum(w is not None for _, w, _ in got) >= (4 if formats is DATE_FORMATS else 10)


def test_trimmed_sql_equals_python_strip():
    ws = " \t\r\n\u3000\u00a0"  # the whitespace the raw contract trims
    values = [
        "a",
        " a",
        "a ",
        "\u3000张三\u3000",
        "\u00a0x\t",
        "x\r\n",
        "a b",
        "  ",
        "",
        "\u3000",
        None,
        "张",
        "中 文",
        "\t\u00a0\u3000 mixed \u3000\u00a0\t",
    ]
    con = duck.connect(":memory:")
    got = con.execute(f"SELECT {trimmed_sql('x')} FROM unnest(?) AS t(x)", [values]).fetchall()
    assert [g[0] for g in got] == [(v.strip(ws) or None) if v is not None else None for v in values]


def test_excess_decimals_sql_equals_the_pattern_on_every_value():
    """The guard in front of the pattern only skips values the pattern cannot match: Python's
    search for the same pattern is the oracle, on amounts and near misses (several dots,
    multi-byte characters before or after the dot, full-width digits, signs, exponents)."""
    import re

    values = [
        "12.30", "12.300", "12.301", "12.3", "12", "12.", ".123", ".12", "-0.001", "1.2.345",
        "1.23.4", "１２.３０１", "12.3０1", "中.123", "中文12.30", "12.30中", "12.301中", "1e-3",
        "1.23E+5", "0.0000001", "12.30\u3000", "", "..123", "12.00000", "12.000001", None,
    ]  # fmt: skip
    con = duck.connect(":memory:")
    got = con.execute(
        f"SELECT {excess_decimals_sql('x')} FROM unnest(?) AS t(x)", [values]
    ).fetchall()
    want = [v is not None and re.search(r"\.[0-9]{2}0*[1-9]", v) is not None for v in values]
    assert [g[0] for g in got] == want
    assert sum(want) >= 6


def test_gb11643_sql_agrees_with_the_generators_check():
    import pandas as pd

    first17 = pd.Series(
        [
            f"{110105 + i:06d}1990{(i % 12) + 1:02d}{(i % 28) + 1:02d}{i % 1000:03d}"
            for i in range(400)
        ]
    )
    valid = first17 + ids.check_digit(first17)
    values = (
        list(valid)
        + list(ids.corrupt_check(valid))  # right and wrong check characters
        + [
            ID_A,
            ID_B,
            ID_BAD,
            ID_A[:17],
            ID_A + "0",
            "11010519491231002x",
            "1101051949123100AX",
            "",
            None,
        ]
    )
    hand = [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
    ]  # ID_A, ID_B right (worked by hand)
    con = duck.connect(":memory:")
    got = [
        r[0]
        for r in con.execute(
            f"SELECT {gb11643_sql('x')} FROM unnest(?) AS t(x)", [values]
        ).fetchall()
    ]
    assert got == list(ids.is_valid_id(pd.Series(values)))
    assert got[:400] == [True] * 400 and got[400:800] == [False] * 400 and got[800:] == hand


@pytest.mark.parametrize("delim", [";", "\t", "|"])
def test_other_csv_delimiters_are_detected(tmp_path, delim):
    landing = tmp_path / "landing"
    f = landing / "outpatient_visits" / "2024Q2" / "v.csv"
    f.parent.mkdir(parents=True)
    v1, v2 = visit("1", dx_code="J06.9,J20"), visit("2")  # a comma inside a value
    text = "\n".join(
        delim.join(r[c] for c in OUT_COLS) for r in [dict(zip(OUT_COLS, OUT_COLS)), v1, v2]
    )
    f.write_text(text + "\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    rep = land(db, landing, progress=quiet)
    assert rep.ok and not rep.rejected_files, rep.summary()
    assert rows(db, "SELECT visit_id, dx_code, _line FROM raw.outpatient_visits ORDER BY 1") == [
        ("1", "J06.9,J20", 2),
        ("2", "J06.9", 3),
    ]


# ── quarantine, rejection, duplicates, conservation ────────────────────────────────────────


def test_bad_rows_quarantined_with_file_line_and_reason(tmp_path):
    landing = tmp_path / "landing"
    f = landing / "outpatient_visits" / "2024Q2" / "v.csv"
    write_csv(
        f,
        [
            visit("1"),  # line 2
            visit("2", visit_time="2024-13-45 10:00:00"),  # line 3: bad date-time
            visit("3", fee="12.5x"),  # line 4: bad amount
            visit("4", visit_type="telepathy", id_no=ID_B, name=NAMES[1]),  # line 5: unknown code
            visit("5", fee="", insutype=""),  # line 6: empty = NULL, fine
            visit("6", visit_time="bad", fee="abc", cancel_flag="2"),  # line 7: three reasons
        ],
    )
    db = tmp_path / "w.duckdb"
    land(db, landing, progress=quiet)
    q = rows(db, "SELECT file, line, reason, record FROM raw.quarantine ORDER BY line")
    assert [(r[0], r[1]) for r in q] == [
        ("outpatient_visits/2024Q2/v.csv", n) for n in (3, 4, 5, 7)
    ]
    assert q[0][2] == "bad date-time in visit_time: '2024-13-45 10:00:00'"
    assert q[1][2] == "bad amount in total_fee: '12.5x'"
    assert q[2][2] == "unknown code in visit_type: 'telepathy'"
    assert (
        "bad date-time in visit_time: 'bad'" in q[3][2]
        and "bad amount in total_fee: 'abc'" in q[3][2]
    )
    assert "bad flag (must be 0 or 1) in cancel_flag: '2'" in q[3][2]
    rec = json.loads(q[2][3])
    assert rec["visit_id"] == "4" and rec["person_key"] == expected_hmac(ID_B)
    assert "patient_name" not in rec and "id_no" not in rec
    assert rows(
        db, "SELECT total_fee, insutype FROM raw.outpatient_visits WHERE visit_id = '5'"
    ) == [(None, None)]
    assert audit(db, "v.csv")[:4] == (6, 2, 4, 0)


def test_line_numbers_with_quoted_newlines_blank_and_malformed_lines(tmp_path):
    landing = tmp_path / "landing"
    f = landing / "outpatient_visits" / "2024Q2" / "v.csv"
    f.parent.mkdir(parents=True)
    good = lambda vid, dx="J06.9": ",".join(visit(vid, dx_code=dx)[c] for c in OUT_COLS)  # noqa: E731
    lines = [
        ",".join(OUT_COLS),
        good("1"),
        good("2", dx='"J06\n.9"'),
        "",
        good("3"),
        "too,few,columns",
        good("4", dx="bad").replace("J06.9", "J06.9").replace("outpatient", "nope"),
    ]
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # physical lines: 1 header, 2 row1, 3-4 row2, 5 blank, 6 row3, 7 malformed, 8 row4
    db = tmp_path / "w.duckdb"
    land(db, landing, progress=quiet)
    got = rows(db, "SELECT visit_id, _line FROM raw.outpatient_visits ORDER BY _line")
    assert got == [("1", 2), ("2", 3), ("3", 6)]
    q = rows(db, "SELECT line, reason FROM raw.quarantine ORDER BY line")
    assert [r[0] for r in q] == [7, 8]
    assert q[0][1].startswith("malformed CSV row") and q[1][1].startswith(
        "unknown code in visit_type"
    )
    assert audit(db, "v.csv")[:4] == (5, 3, 2, 0)


def test_files_read_together_keep_their_own_line_numbers(tmp_path, monkeypatch, dedup_path):
    # Same-header CSV files (UTF-8 or GB18030) are staged with one multi-file read; files with
    # anything unusual fall back to the per-file path. Lines are worked out from how each file
    # is written.
    landing = tmp_path / "landing"
    base = landing / "outpatient_visits" / "2024Q2"
    base.mkdir(parents=True)
    good = lambda vid, dx="J06.9": ",".join(visit(vid, dx_code=dx)[c] for c in OUT_COLS)  # noqa: E731
    head = ",".join(OUT_COLS)
    files = {
        "a.csv": [head, good("a1"), good("a2"), good("a3")],  # lines 2, 3, 4
        "b.csv": [
            head,
            good("b1"),
            "," * (len(OUT_COLS) - 1),
            good("b2"),
        ],  # all-empty row: b2 on line 4
        "c.csv": [head, good("c1"), "", good("c2")],  # empty line: c2 on line 4
        "d.csv": [head, good("d1", dx='"J06\n.9"'), good("d2")],  # quoted newline: d2 on line 4
        "e.csv": [head, "too,few", good("e1")],  # malformed line 2: e1 on line 3
        "f.csv": [head, good("a1"), good("f1")],  # a1 again: duplicate of a.csv
        "g.csv": [head],  # header only
        "h.csv": [head, good("h1", dx="中医"), good("h2")],  # GB18030: lines 2, 3
    }
    for name, lines in files.items():
        (base / name).write_text(
            "\n".join(lines) + "\n", encoding="gb18030" if name == "h.csv" else "utf-8"
        )
    (base / "j.csv").write_bytes(
        f"{head}\n{good('j1')}\n".encode() + b"\xff\xff\n"
    )  # neither UTF-8 nor GB18030
    want_lines = {
        "a1": ("a.csv", 2),
        "a2": ("a.csv", 3),
        "a3": ("a.csv", 4),
        "b1": ("b.csv", 2),
        "b2": ("b.csv", 4),
        "c1": ("c.csv", 2),
        "c2": ("c.csv", 4),
        "d1": ("d.csv", 2),
        "d2": ("d.csv", 4),
        "e1": ("e.csv", 3),
        "f1": ("f.csv", 3),
        "h1": ("h.csv", 2),
        "h2": ("h.csv", 3),
    }
    db = tmp_path / "w.duckdb"
    said: list[str] = []
    rep = land(db, landing, progress=said.append)
    assert any("4 of 9 file(s) with the same header read together" in m for m in said), (
        said
    )  # a, b, f, h
    got = {
        v: (f.split("/")[-1], line)
        for v, f, line in rows(db, "SELECT visit_id, _file, _line FROM raw.outpatient_visits")
    }
    assert got == want_lines
    assert rows(db, "SELECT dx_code FROM raw.outpatient_visits WHERE visit_id = 'h1'") == [
        ("中医",)
    ]
    enc = {f.file.split("/")[-1]: (f.encoding, f.status) for f in rep.files}
    assert enc["h.csv"] == ("GB18030", "loaded") and enc["a.csv"] == ("UTF-8", "loaded")
    assert enc["j.csv"][1] == "rejected" and "unreadable encoding" in rep.files[-1].message
    assert rows(db, "SELECT file, line FROM raw.quarantine") == [
        ("outpatient_visits/2024Q2/e.csv", 2)
    ]
    read = {
        f.file.split("/")[-1]: (f.rows_read, f.rows_loaded, f.rows_quarantined, f.rows_duplicate)
        for f in rep.files
    }
    assert read == {
        "a.csv": (3, 3, 0, 0),
        "b.csv": (2, 2, 0, 0),
        "c.csv": (2, 2, 0, 0),
        "d.csv": (2, 2, 0, 0),
        "e.csv": (2, 1, 1, 0),
        "f.csv": (2, 1, 0, 1),
        "g.csv": (0, 0, 0, 0),
        "h.csv": (2, 2, 0, 0),
        "j.csv": (0, 0, 0, 0),
    }
    # the per-file path alone (no multi-file reads) lands exactly the same
    import orchestration.land.deliver as deliver_module

    batched = snapshot(db)
    monkeypatch.setattr(deliver_module, "same_header_batches", lambda paths: [])
    db2 = tmp_path / "w2.duckdb"
    land(db2, landing, progress=quiet)
    assert snapshot(db2) == batched


def test_missing_required_column_rejects_file_and_run_goes_on(tmp_path):
    landing = tmp_path / "landing"
    base = landing / "outpatient_visits" / "2024Q2"
    write_csv(
        base / "bad.csv", [visit("X1"), visit("X2")], cols=[c for c in OUT_COLS if c != "total_fee"]
    )
    # optional insutype absent, extra column present, headers in other case: still loads
    cols = [c for c in OUT_COLS if c != "insutype"]
    write_csv(base / "good.csv", [visit("G1")], cols=cols, extra="remark")
    text = (base / "good.csv").read_text(encoding="utf-8")
    (base / "good.csv").write_text(
        text.replace(",".join(cols), ",".join(f" {c.upper()} " for c in cols), 1), encoding="utf-8"
    )
    (base / "notatable.xlsx").write_bytes(b"this is not a zip")
    db = tmp_path / "w.duckdb"
    rep = land(db, landing, progress=quiet)
    rej = {f.file.split("/")[-1]: f.message for f in rep.rejected_files}
    assert set(rej) == {"bad.csv", "notatable.xlsx"}
    assert "bad.csv" in rej["bad.csv"] and "total_fee" in rej["bad.csv"]
    assert audit(db, "bad.csv")[:5] == (2, 0, 0, 0, "rejected")
    assert "missing required column(s) total_fee" in audit(db, "bad.csv")[5]
    assert audit(db, "notatable.xlsx")[4] == "rejected"
    assert rows(db, "SELECT visit_id, insutype FROM raw.outpatient_visits") == [("G1", None)]
    assert "REJECTED" in rep.summary() and "total_fee" in rep.summary()


@pytest.fixture(params=["group_by", "row_hash"])
def dedup_path(request, monkeypatch):
    """Both ways a delivery's exact duplicates are found (deliver._distinct_rows): one GROUP BY
    over every column, and, for large deliveries, a row hash compared column by column."""
    if request.param == "row_hash":
        monkeypatch.setattr("orchestration.land.deliver.HASH_DEDUP_ROWS", 0)
    return request.param


def test_exact_duplicates_counted_once_within_and_across_files(tmp_path, dedup_path):
    landing = tmp_path / "landing"
    base = landing / "outpatient_visits" / "2024Q2"
    write_csv(base / "a.csv", [visit("1"), visit("2"), visit("1"), visit("3")])
    write_csv(
        base / "b.csv", [visit("3"), visit("4"), visit("2", fee="99.00")]
    )  # 3 dup; 2 conflicts
    db = tmp_path / "w.duckdb"
    rep = land(db, landing, progress=quiet)
    assert audit(db, "a.csv")[:4] == (4, 3, 0, 1)
    assert audit(db, "b.csv")[:4] == (3, 1, 1, 1)  # visit 2 again with another fee: quarantined
    got = rows(db, "SELECT visit_id, _file, _line FROM raw.outpatient_visits ORDER BY _file, _line")
    assert got == [
        ("1", "outpatient_visits/2024Q2/a.csv", 2),
        ("2", "outpatient_visits/2024Q2/a.csv", 3),
        ("3", "outpatient_visits/2024Q2/a.csv", 5),
        ("4", "outpatient_visits/2024Q2/b.csv", 3),
    ]
    ((line, reason),) = rows(db, "SELECT line, reason FROM raw.quarantine")
    assert line == 4 and "line 3 of outpatient_visits/2024Q2/a.csv" in reason and "99" not in reason
    for f in rep.files:
        assert f.conserved
    assert (
        rows(
            db,
            "SELECT count(*) FROM raw.load_audit WHERE rows_read <> rows_loaded + rows_quarantined "
            "+ rows_duplicate",
        )[0][0]
        == 0
    )


def test_duplicates_and_conflicts_across_a_multi_file_read_and_a_single_file(tmp_path, dedup_path):
    """Files staged apart (a multi-file read, a file read alone) are one delivery: a row of the
    single file conflicting with a key the multi-file read holds earlier in file order is
    quarantined naming that line, an exact duplicate across them counts once."""
    landing = tmp_path / "landing"
    base = landing / "outpatient_visits" / "2024Q2"
    # a.csv and b.csv share a header: one multi-file read. c.csv's other column order: read alone
    write_csv(base / "a.csv", [visit("1"), visit("2")])
    write_csv(base / "b.csv", [visit("5"), visit("4", fee="7.00")])
    write_csv(
        base / "c.csv", [visit("2", fee="99.00"), visit("1"), visit("4")], cols=OUT_COLS[::-1]
    )
    db = tmp_path / "w.duckdb"
    rep = land(db, landing, progress=quiet)
    assert audit(db, "a.csv")[:4] == (2, 2, 0, 0)
    assert audit(db, "b.csv")[:4] == (2, 2, 0, 0)
    # visit 2 again with another fee: conflicts with a.csv line 3; visit 1: an exact duplicate of
    # a.csv line 2; visit 4 without b.csv's fee: conflicts with b.csv line 3
    assert audit(db, "c.csv")[:4] == (3, 0, 2, 1)
    got = rows(
        db,
        "SELECT visit_id, total_fee, _file, _line FROM raw.outpatient_visits ORDER BY _file, _line",
    )
    assert got == [
        ("1", Decimal("12.50"), "outpatient_visits/2024Q2/a.csv", 2),
        ("2", Decimal("12.50"), "outpatient_visits/2024Q2/a.csv", 3),
        ("5", Decimal("12.50"), "outpatient_visits/2024Q2/b.csv", 2),
        ("4", Decimal("7.00"), "outpatient_visits/2024Q2/b.csv", 3),
    ]
    quarantined = rows(db, "SELECT file, line, reason, record FROM raw.quarantine ORDER BY line")
    assert [(f.split("/")[-1], n) for f, n, _, _ in quarantined] == [("c.csv", 2), ("c.csv", 4)]
    assert "line 3 of outpatient_visits/2024Q2/a.csv" in quarantined[0][2]
    assert "line 3 of outpatient_visits/2024Q2/b.csv" in quarantined[1][2]
    assert '"total_fee":"99.00"' in quarantined[0][3].replace(" ", "")
    assert all(f.conserved for f in rep.files)


def test_row_hash_path_lands_a_generated_landing_as_the_group_by_path_does(tmp_path, monkeypatch):
    """Every delivery of a generated landing de-duplicated by row hash (as deliveries above
    HASH_DEDUP_ROWS are) lands the rows the generator says load, and exactly what the GROUP BY
    path lands: the same raw rows, quarantine and audit."""
    landing = tmp_path / "landing"
    generate(landing, counties=2, years=(2024,), scale=0.03, seed=23, progress=quiet)
    want = json.loads((tmp_path / "ground_truth" / "defects.json").read_text())
    grouped = tmp_path / "group_by.duckdb"
    land(grouped, landing, progress=quiet)
    monkeypatch.setattr("orchestration.land.deliver.HASH_DEDUP_ROWS", 0)
    hashed = tmp_path / "row_hash.duckdb"
    land(hashed, landing, progress=quiet)
    loaded = dict(rows(hashed, "SELECT source, sum(rows_loaded) FROM raw.load_audit GROUP BY 1"))
    assert loaded == {s: v["rows_loaded"] for s, v in want.items()}
    assert snapshot(hashed) == snapshot(grouped)


# ── re-landing ─────────────────────────────────────────────────────────────────────────────


def snapshot(db):
    out = {}
    for src in contract.SOURCES:
        out[src.name] = sorted(
            rows(db, f"SELECT * EXCLUDE (_loaded_at) FROM raw.{src.name}"), key=repr
        )
    out["quarantine"] = sorted(rows(db, "SELECT * FROM raw.quarantine"), key=repr)
    out["audit"] = sorted(rows(db, "SELECT * EXCLUDE (loaded_at) FROM raw.load_audit"), key=repr)
    return out


def test_relanding_replaces_only_that_delivery_and_is_idempotent(tmp_path):
    landing = tmp_path / "landing"
    q1 = write_csv(
        landing / "outpatient_visits" / "2024Q1" / "v.csv",
        [visit("Q1a", visit_time="2024-01-05"), visit("Q1bad", fee="x")],
    )
    q2 = write_csv(landing / "outpatient_visits" / "2024Q2" / "v.csv", [visit("Q2a"), visit("Q2b")])
    write_csv(
        landing / "deaths" / "2024" / "d.csv",
        [
            {
                "death_id": "D1",
                "id_no": ID_A,
                "sex": "1",
                "birth_date": "1949-12-31",
                "death_date": "2024-03-01",
                "residence_county_code": "410102",
                "underlying_cause": "I21",
            }
        ],
        cols=[c.name for c in contract.SOURCE_BY_NAME["deaths"].columns],
    )
    db = tmp_path / "w.duckdb"
    first = land(db, landing, progress=quiet)
    assert len(first.landed) == 3
    snap1 = snapshot(db)
    again = land(db, landing, progress=quiet, force=True)
    assert len(again.landed) == 3 and snapshot(db) == snap1

    # unchanged -> skipped
    rep = land(db, landing, progress=quiet)
    assert len(rep.skipped) == 3 and not rep.landed
    assert "unchanged" in rep.summary()

    # Q2 re-delivered with different rows: only Q2 changes
    write_csv(q2, [visit("Q2c")])
    os.utime(q2, (q2.stat().st_atime, q2.stat().st_mtime + 10))
    rep = land(db, landing, progress=quiet)
    assert [(d.source, d.period) for d in rep.landed] == [("outpatient_visits", "2024Q2")]
    assert len(rep.skipped) == 2
    got = rows(db, "SELECT _period, visit_id FROM raw.outpatient_visits ORDER BY 1, 2")
    assert got == [("2024Q1", "Q1a"), ("2024Q2", "Q2c")]
    assert rows(db, "SELECT source, period, line FROM raw.quarantine") == [
        ("outpatient_visits", "2024Q1", 3)
    ]
    assert rows(db, "SELECT count(*) FROM raw.load_audit")[0][0] == 3
    assert rows(db, "SELECT count(*) FROM raw.deaths")[0][0] == 1
    # a period filter lands only that period
    rep = land(db, landing, periods={"2024Q1"}, progress=quiet, force=True)
    assert [(d.source, d.period) for d in rep.landed] == [("outpatient_visits", "2024Q1")]
    assert q1.exists()


def test_folder_names_validated_with_clear_messages(tmp_path):
    landing = tmp_path / "landing"
    write_csv(
        landing / "outpatient_visits" / "2024" / "v.csv", [visit("1")]
    )  # annual folder for quarterly
    write_csv(landing / "outpatient_visits" / "2024Q2" / "v.csv", [visit("2")])
    write_csv(landing / "outpatient_visit" / "2024Q2" / "v.csv", [visit("3")])  # typo
    (landing / "outpatient_visits" / "2024Q2" / "readme.txt").write_text("hi")
    db = tmp_path / "w.duckdb"
    rep = land(db, landing, progress=quiet)
    text = "\n".join(rep.problems)
    assert "outpatient_visits/2024/" in text and "YYYYQn" in text
    assert "outpatient_visit/" in text and "unknown source folder" in text
    # a file of an unknown type is not read: listed as skipped, in the summary and the audit
    assert "readme.txt" in rep.summary()
    assert rows(db, "SELECT status FROM raw.load_audit WHERE file LIKE '%readme.txt'") == [
        ("skipped",)
    ]
    assert rows(db, "SELECT visit_id FROM raw.outpatient_visits") == [("2",)]


def test_create_raw_schema_makes_every_table(tmp_path):
    con = duck.connect(tmp_path / "w.duckdb")
    create_raw_schema(con)
    for src in contract.SOURCES:
        cols = con.execute(f"DESCRIBE raw.{src.name}").fetchall()
        assert [c[0] for c in cols] == [n for n, _ in contract.raw_columns(src)]
    for t in ("quarantine", "load_audit", "deliveries", "file_digests"):
        con.execute(f"SELECT * FROM raw.{t}")
    con.close()


# ── identifiers ────────────────────────────────────────────────────────────────────────────


def test_hmac_matches_python_and_links_sources_and_no_clear_identifiers(tmp_path):
    landing = tmp_path / "landing"
    write_csv(
        landing / "outpatient_visits" / "2024Q2" / "v.csv",
        [
            visit("1", id_no=" 11010519491231002x "),
            visit("2", id_no=ID_BAD, name=NAMES[1]),
            visit("3", id_no=ID_B, name=NAMES[2], fee="bad"),
        ],
    )
    scols = [c.name for c in contract.SOURCE_BY_NAME["insurance_settlements"].columns]
    setl = {c: "" for c in scols}
    setl.update(
        setl_id="S1",
        mdtrt_id="M1",
        psn_no="PSN0001",
        certno=ID_A,
        gend="2",
        brdy="19491231",
        insutype="390",
        med_type="11",
        insu_admdvs="410102",
        mdtrtarea_admdvs="410102",
        fixmedins_code="H41010200001",
        fixmedins_name="某某医院",
        fixmedins_type="1",
        begndate="2024-04-02",
        enddate="2024-04-02",
        setl_time="2024-04-02 09:00:00",
        dise_codg="J06.9",
        medfee_sumamt="12.50",
        hifp_pay="5.00",
        fund_pay_sumamt="5.00",
        acct_pay="0",
        psn_cash_pay="7.50",
        refd_setl_flag="0",
    )
    write_csv(landing / "insurance_settlements" / "2024Q2" / "s.csv", [setl], cols=scols)
    import openpyxl

    pcols = [c.name for c in contract.SOURCE_BY_NAME["personnel"].columns]
    wb = openpyxl.Workbook()
    wb.active.append(pcols)
    wb.active.append(["01001", "ST1", NAMES[0], ID_A, "1", "1949-12-31", "11", "3", "1", "88000"])
    wb.save(landing / "personnel" / "2024" / "p.xlsx") if (landing / "personnel" / "2024").mkdir(
        parents=True
    ) is None else None

    db = tmp_path / "w.duckdb"
    land(db, landing, progress=quiet)
    want = expected_hmac(ID_A)
    assert rows(
        db, "SELECT person_key, person_key_valid FROM raw.outpatient_visits WHERE visit_id = '1'"
    ) == [(want, True)]
    assert rows(db, "SELECT person_key FROM raw.insurance_settlements") == [(want,)]
    assert rows(db, "SELECT psn_key FROM raw.insurance_settlements") == [
        (expected_hmac("PSN0001"),)
    ]
    assert rows(db, "SELECT person_key FROM raw.personnel") == [(want,)]
    assert rows(db, "SELECT person_key_valid FROM raw.outpatient_visits WHERE visit_id = '2'") == [
        (False,)
    ]
    assert rows(db, "SELECT person_key_valid FROM raw.personnel") == [(True,)]

    # no identifier or name in clear anywhere in the file
    needles = [ID_A, ID_A.lower(), ID_B, ID_BAD, "PSN0001", *NAMES]
    con = open_db(db)
    try:
        cols = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON')"
        ).fetchall()
        assert len(cols) > 50
        for schema, table, col in cols:
            for n in needles:
                hit = con.execute(
                    f'SELECT count(*) FROM "{schema}"."{table}" WHERE CAST("{col}" AS VARCHAR) '
                    f"LIKE ?",
                    [f"%{n}%"],
                ).fetchone()[0]
                assert hit == 0, (schema, table, col, n)
    finally:
        con.close()
    raw_bytes = db.read_bytes()
    for n in needles:
        assert n.encode() not in raw_bytes and n.encode("gb18030") not in raw_bytes


def test_hash_key_comes_from_settings(monkeypatch):
    assert settings.hash_key() == (KEY, False)


def test_land_profile_times_every_statement_of_a_landing(tmp_path, capsys, monkeypatch):
    """bench/land_profile.py lands through the loader with each statement timed: the rows
    landed, the kinds' seconds adding up to the statements' total, within the wall time."""
    landing = tmp_path / "landing"
    write_csv(landing / "outpatient_visits" / "2024Q2" / "a.csv", [visit("1"), visit("2")])
    write_csv(landing / "outpatient_visits" / "2024Q2" / "b.csv", [visit("3"), visit("3")])
    path = Path(__file__).resolve().parents[2] / "bench" / "land_profile.py"
    spec = importlib.util.spec_from_file_location("land_profile", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", ["land_profile.py", str(landing)])
    module.main()
    out = capsys.readouterr().out
    assert out.startswith("landed 1 delivery (4 rows read) in ")
    wall = float(out.split(") in ", 1)[1].split(" s", 1)[0])
    lines = out.splitlines()
    total = next(i for i, line in enumerate(lines) if line.endswith("all statements"))
    kinds = [float(line.split()[0]) for line in lines[2:total]]
    in_sql = float(lines[total].split()[0])
    assert abs(sum(kinds) - in_sql) <= 0.01 * len(kinds)  # each printed to 0.01 s
    assert 0 < in_sql <= wall + 0.06  # the wall time is printed to 0.1 s, the kinds to 0.01 s
