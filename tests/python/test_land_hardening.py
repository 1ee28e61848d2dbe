"""Landing of files shaped the way county systems really export them (issue 15 items 1-10):
line endings, one bad row, `_` file names, content fingerprints, conflicting duplicates, codes
typed as numbers, full-width identifiers, implausible dates, links, personal data in messages.
Counts are checked against the rows written here, per file, in SQL."""

from __future__ import annotations

import os
import time

import pytest
from test_land import (
    ID_A,
    ID_BAD,
    NAMES,
    OUT_COLS,
    audit,
    expected_hmac,
    quiet,
    rows,
    visit,
    write_csv,
)

from orchestration import duck
from orchestration.land import land

Q2 = "outpatient_visits/2024Q2"


pytestmark = pytest.mark.usefixtures("landing_key")


def line(r: dict) -> str:
    return ",".join(r[c] for c in OUT_COLS)


def per_file(db, table="raw.outpatient_visits", col="_file"):
    return dict(rows(db, f"SELECT {col}, count(*) FROM {table} GROUP BY 1"))


def test_crlf_trailing_blank_lines_and_mixed_line_endings_load_every_row(tmp_path):
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    header = ",".join(OUT_COLS)
    (base / "crlf.csv").write_bytes(
        (
            "\r\n".join([header, line(visit("1")), line(visit("2")), line(visit("3"))])
            + "\r\n\r\n\r\n"
        ).encode()
    )
    (base / "mixed.csv").write_bytes(
        (
            header
            + "\n"
            + line(visit("4"))
            + "\r\n"
            + line(visit("5"))
            + "\n"
            + line(visit("6"))
            + "\r\n"
        ).encode()
    )
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    assert per_file(db) == {f"{Q2}/crlf.csv": 3, f"{Q2}/mixed.csv": 3}
    assert rows(db, "SELECT count(*) FROM raw.quarantine")[0][0] == 0
    # no CR reached the last column; lines are physical lines
    assert rows(db, "SELECT DISTINCT insutype FROM raw.outpatient_visits") == [("390",)]
    assert rows(
        db,
        f"SELECT visit_id, _line FROM raw.outpatient_visits WHERE _file = '{Q2}/mixed.csv' "
        "ORDER BY 2",
    ) == [("4", 2), ("5", 3), ("6", 4)]


def test_one_unbalanced_quote_and_one_too_long_row_are_quarantined_by_line(tmp_path):
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    lines = [
        ",".join(OUT_COLS),
        line(visit("1")),
        line(visit("2", dx_code='"J06.9')),  # line 3: unbalanced quote
        line(visit("3")),
        line(visit("4")),
        line(visit("5", dx_code="J" * 3_000_000)),  # line 6: longer than DuckDB's 2 MB line limit
        line(visit("6")),
    ]
    (base / "v.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    assert rows(db, "SELECT visit_id, _line FROM raw.outpatient_visits ORDER BY 2") == [
        ("1", 2),
        ("3", 4),
        ("4", 5),
        ("6", 7),
    ]
    got = rows(db, "SELECT line, reason FROM raw.quarantine ORDER BY line")
    assert [g[0] for g in got] == [3, 6]
    assert "unbalanced quote" in got[0][1] and "line longer" in got[1][1]
    assert audit(db, "v.csv")[:5] == (6, 4, 2, 0, "loaded")
    for _, reason in got:
        assert ID_A not in reason and NAMES[0] not in reason


def test_underscore_files_land_and_every_skipped_file_is_reported(tmp_path):
    base = tmp_path / "landing" / Q2
    write_csv(base / "_补传.csv", [visit("1"), visit("2")])
    write_csv(base / "a.csv", [visit("3")])
    write_csv(base / ".hidden.csv", [visit("9")])
    write_csv(base / "~$a.csv", [visit("8")])
    db = tmp_path / "w.duckdb"
    rep = land(db, tmp_path / "landing", progress=quiet)
    assert per_file(db) == {f"{Q2}/_补传.csv": 2, f"{Q2}/a.csv": 1}
    (d,) = rep.deliveries
    assert sorted(d.skipped_files) == [
        f"{Q2}/.hidden.csv: hidden file",
        f"{Q2}/~$a.csv: Office lock file",
    ]
    text = rep.summary()
    assert f"{Q2}/.hidden.csv: hidden file" in text and f"{Q2}/~$a.csv: Office lock file" in text


def test_correction_with_same_size_and_mtime_is_re_landed(tmp_path):
    f = write_csv(tmp_path / "landing" / Q2 / "v.csv", [visit("1", fee="12.50")])
    st = f.stat()
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    write_csv(f, [visit("1", fee="12.60")])  # same length
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    rep = land(db, tmp_path / "landing", progress=quiet)
    assert [d.status for d in rep.deliveries] == ["landed"]
    assert rows(db, "SELECT total_fee::VARCHAR FROM raw.outpatient_visits") == [("12.60",)]
    assert land(db, tmp_path / "landing", progress=quiet).deliveries[0].status == "skipped"


def test_unchanged_files_are_not_read_again_but_a_correction_is(tmp_path, monkeypatch):
    """raw.file_digests: a file whose size, times and inode are those it was hashed at is not
    read again; a same-size correction with its mtime restored is (its change time moved)."""
    import orchestration.land.discovery as discovery

    monkeypatch.setattr(discovery, "RACY_NS", 0)  # reusable at once (by default 2 s after)
    landing = tmp_path / "landing"
    f = write_csv(landing / Q2 / "v.csv", [visit("1", fee="12.50")])
    write_csv(landing / Q2 / "w.csv", [visit("2", fee="3.00")])
    db = tmp_path / "w.duckdb"
    first = land(db, landing, progress=quiet)
    assert (first.files_hashed, first.files_hash_reused) == (2, 0)
    read: list[str] = []
    real = discovery.file_digest
    monkeypatch.setattr(discovery, "file_digest", lambda p: read.append(p.name) or real(p))
    rep = land(db, landing, progress=quiet)
    assert read == [] and (rep.files_hashed, rep.files_hash_reused) == (0, 2)
    assert [d.status for d in rep.deliveries] == ["skipped"]
    assert "2 unchanged since hashed" in rep.summary()

    st = f.stat()
    time.sleep(0.01)
    write_csv(f, [visit("1", fee="12.60")])  # same length, mtime restored as `cp -p` does
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (f.stat().st_size, f.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    rep = land(db, landing, progress=quiet)
    assert read == ["v.csv"] and [d.status for d in rep.deliveries] == ["landed"]
    got = rows(db, "SELECT visit_id, total_fee::VARCHAR FROM raw.outpatient_visits ORDER BY 1")
    assert got == [("1", "12.60"), ("2", "3.00")]
    # a removed file leaves the digest table with its delivery
    (landing / Q2 / "w.csv").unlink()
    land(db, landing, progress=quiet)
    assert rows(db, "SELECT file FROM raw.file_digests") == [(f"{Q2}/v.csv",)]


def test_a_digest_taken_just_after_a_change_is_not_trusted(tmp_path, monkeypatch):
    """A file changed shortly before it was hashed is hashed again next time (a same-size
    rewrite in the same tick of a coarse file-system clock would leave its stat unchanged)."""
    import orchestration.land.discovery as discovery

    monkeypatch.setattr(discovery, "RACY_NS", 3600 * 10**9)  # every digest is "just after"
    landing = tmp_path / "landing"
    write_csv(landing / Q2 / "v.csv", [visit("1")])
    db = tmp_path / "w.duckdb"
    land(db, landing, progress=quiet)
    rep = land(db, landing, progress=quiet)
    assert (rep.files_hashed, rep.files_hash_reused) == (1, 0)
    assert [d.status for d in rep.deliveries] == ["skipped"]


def test_conflicting_settlements_count_once_and_the_conflict_is_quarantined(tmp_path):
    # same org_code + visit_id with other content, within one file and across files
    base = tmp_path / "landing" / Q2
    write_csv(base / "a.csv", [visit("1"), visit("2"), visit("1", dx_code="I10")])
    write_csv(base / "b.csv", [visit("2", fee="1.00"), visit("3")])
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    assert rows(
        db, "SELECT visit_id, count(*) FROM raw.outpatient_visits GROUP BY 1 ORDER BY 1"
    ) == [("1", 1), ("2", 1), ("3", 1)]
    assert rows(db, "SELECT dx_code FROM raw.outpatient_visits WHERE visit_id = '1'") == [
        ("J06.9",)
    ]
    got = rows(db, "SELECT file, line, reason FROM raw.quarantine ORDER BY file, line")
    assert [(f, n) for f, n, _ in got] == [(f"{Q2}/a.csv", 4), (f"{Q2}/b.csv", 2)]
    assert f"line 2 of {Q2}/a.csv" in got[0][2] and f"line 3 of {Q2}/a.csv" in got[1][2]
    assert per_file(db, "raw.quarantine", "file") == {f"{Q2}/a.csv": 1, f"{Q2}/b.csv": 1}


def test_codes_typed_as_numbers_in_parquet_and_xlsx_reject_the_file_naming_the_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from openpyxl import Workbook

    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    cols = {c: pa.array([visit("1")[c], visit("2")[c]], type=pa.string()) for c in OUT_COLS}
    pq.write_table(pa.table(cols), base / "text.parquet")
    cols["dept_code"] = pa.array([4, 3], type=pa.int64())
    pq.write_table(pa.table(cols), base / "numeric.parquet")
    pers = tmp_path / "landing" / "personnel" / "2024"
    pers.mkdir(parents=True)
    pcols = [
        "org_code",
        "staff_id",
        "name",
        "id_no",
        "sex",
        "birth_date",
        "practice_type",
        "title_post",
        "on_post",
        "annual_income",
    ]
    wb = Workbook()
    ws = wb.active
    ws.append(pcols)
    ws.append(["01001", 1, NAMES[1], ID_A, "1", "1980-01-01", "11", "3", "1", "100000"])
    ws.append(["01001", 2, NAMES[2], ID_A, "2", "1981-01-01", "21", "4", "1", "90000"])
    wb.save(pers / "staff.xlsx")
    # a column mixing text and number cells: the number cell lost its zeros, never silently
    wb = Workbook()
    ws = wb.active
    ws.append(pcols)
    ws.append(["01001", "0000003", NAMES[1], ID_A, "1", "1980-01-01", "11", "3", "1", "100000"])
    ws.append([1001, "0000004", NAMES[2], ID_A, "2", "1981-01-01", "21", "4", "1", "90000"])
    wb.save(pers / "mixed.xlsx")
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    assert per_file(db) == {f"{Q2}/text.parquet": 2}
    r = audit(db, "numeric.parquet")
    assert r[4] == "rejected" and "dept_code" in r[5] and "leading zeros" in r[5]
    r = audit(db, "staff.xlsx")
    assert r[4] == "rejected" and "staff_id" in r[5]
    r = audit(db, "mixed.xlsx")
    assert r[4] == "rejected" and "org_code (number cells from line 3)" in r[5]
    assert rows(db, "SELECT count(*) FROM raw.personnel")[0][0] == 0


def test_full_width_and_spaced_identifiers_hash_like_the_plain_form(tmp_path):
    full = ID_A.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
    spaced = f"{ID_A[:6]} {ID_A[6:14]}\u3000{ID_A[14:]}"
    write_csv(
        tmp_path / "landing" / Q2 / "v.csv",
        [
            visit("1"),
            visit("2", id_no=full),
            visit("3", id_no=spaced),
            visit("4", id_no=ID_A.lower()),
        ],
    )
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    assert rows(db, "SELECT DISTINCT person_key, person_key_valid FROM raw.outpatient_visits") == [
        (expected_hmac(ID_A), True)
    ]


def test_implausible_dates_and_over_precise_amounts_are_quarantined(tmp_path, monkeypatch):
    monkeypatch.setattr("orchestration.land.parse.BIRTH_AFTER_EVENT", True)
    write_csv(
        tmp_path / "landing" / Q2 / "v.csv",
        [
            visit("1"),  # line 2: fine
            visit("2", birth="2024-05-01"),  # 3: born after the visit
            visit("3", birth="1899-12-31"),  # 4: before 1900
            visit("4", visit_time="2099-04-02 08:30:00"),  # 5: in the future
            visit("5", fee="12.345"),  # 6: 3 decimals
            visit("6", fee="12.340"),  # 7: fine (trailing zero)
        ],
    )
    db = tmp_path / "w.duckdb"
    land(db, tmp_path / "landing", progress=quiet)
    assert rows(db, "SELECT visit_id FROM raw.outpatient_visits ORDER BY 1") == [("1",), ("6",)]
    got = dict(rows(db, "SELECT line, reason FROM raw.quarantine"))
    assert "birth_date: after visit_time" in got[3]
    assert "birth_date: before 1900" in got[4]
    assert "visit_time: in the future" in got[5]
    assert "more than 2 decimals in total_fee" in got[6]
    assert len(got) == 4


def test_links_out_of_the_landing_folder_are_not_followed(tmp_path):
    outside = write_csv(tmp_path / "secret" / "s.csv", [visit("99", id_no=ID_BAD, name=NAMES[2])])
    base = tmp_path / "landing" / Q2
    write_csv(base / "a.csv", [visit("1")])
    (base / "link.csv").symlink_to(outside)
    (tmp_path / "landing" / "deaths").symlink_to(outside.parent, target_is_directory=True)
    db = tmp_path / "w.duckdb"
    rep = land(db, tmp_path / "landing", progress=quiet)
    assert per_file(db) == {f"{Q2}/a.csv": 1}
    assert rep.deliveries[0].skipped_files == [
        f"{Q2}/link.csv: symbolic link pointing outside the landing folder, not followed"
    ]
    assert any(p.startswith("deaths: skipped (symbolic link") for p in rep.problems)
    dump = str(rows(db, "SELECT * FROM raw.load_audit")) + rep.summary()
    assert (
        "99" not in str(rows(db, "SELECT visit_id FROM raw.outpatient_visits"))
        and NAMES[2] not in dump
    )


def test_header_less_file_and_bad_values_keep_identifiers_out_of_every_message(tmp_path):
    base = tmp_path / "landing" / Q2
    base.mkdir(parents=True)
    (base / "noheader.csv").write_text(
        line(visit("1")) + "\n" + line(visit("2")) + "\n", encoding="utf-8"
    )
    # an identifier in a parsed column (columns shifted by the sender): shown masked in the reason
    write_csv(base / "a.csv", [visit("3", birth=ID_A), visit("4", fee=ID_BAD)])
    db = tmp_path / "w.duckdb"
    msgs: list[str] = []
    rep = land(db, tmp_path / "landing", progress=msgs.append)
    r = audit(db, "noheader.csv")
    assert r[4] == "rejected" and "missing required column" in r[5]
    con = duck.connect(db)
    try:
        dump = [
            str(con.execute(f"SELECT * FROM raw.{t}").fetchall())
            for t in ("load_audit", "quarantine")
        ]
    finally:
        con.close()
    assert rows(db, "SELECT count(*) FROM raw.quarantine")[0][0] == 2
    for text in dump + msgs + [rep.summary(verbose=True)]:
        for secret in (ID_A, ID_BAD, *NAMES):
            assert secret not in text, (secret, text[:200])
