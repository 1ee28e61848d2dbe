"""The same records landed in the contract layout and in the national layouts (issue 33).

`ygt generate --layouts national` writes the records of `--layouts contract` (same seed) under
the shipped profiles: front pages as N041 .dbf and HQMS .csv/.xlsx, every other source with
Chinese headers. Both landings go through the pipeline; every county value of
marts.indicator_values must equal the generator's ground truth (computed in pandas from the
records, whatever the layout) and so each other, and load_audit must name the profiles used.
"""

import csv
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration import catalogue, duck, pipeline, settings
from orchestration.generate import compare, generate, layouts
from orchestration.land.profile import Profiles

# the smallest province that writes every source and every planted defect (county idx 0 gets
# the rejected file, the quarantined and duplicate rows) and several front-page files a quarter
SIZE = dict(counties=1, years=(2024,), scale=0.05, seed=5)
SILENT = lambda m: None  # noqa: E731


def _generate(root: Path, layout: str) -> Path:
    landing = root / layout / "landing"
    generate(landing, layouts=layout, progress=SILENT, **SIZE)
    return landing


def _build(root: Path, layout: str) -> dict:
    landing = _generate(root, layout)
    # the steps of `ygt run` up to the marts (publishing copies them unchanged)
    work_db = settings.work_db_for(root / layout / "warehouse.duckdb")
    pipeline.land_step(landing, work_db, None, SILENT)
    gates = pipeline.raw_gate_step(work_db, None)
    assert gates.passed, gates.summary()
    pipeline.dbt_step(work_db, SILENT)
    con = duck.connect(work_db, read_only=True)
    values = con.execute("select * from marts.indicator_values").df()
    audit = con.execute("select * from raw.load_audit").df()
    names = con.execute(
        "select _period, count(*), count(distinct trim(org_name)) from raw.facilities group by 1"
    ).fetchall()
    con.close()
    truth = compare.read_truth(landing.parent / "ground_truth")
    return dict(landing=landing, values=values, audit=audit, truth=truth, names=names)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts")
    return {layout: _build(root, layout) for layout in ("contract", "national")}


@pytest.mark.slow
def test_ground_truth_does_not_depend_on_the_layout(built):
    a, b = built["contract"]["truth"], built["national"]["truth"]
    pd.testing.assert_frame_equal(a, b)
    # 1 county x (every catalogued indicator a year + 4 quarters x the quarterly ones)
    rows = catalogue.indicators().values()
    assert len(a) == 1 * (len(rows) + 4 * sum(r["frequency"] == "quarterly" for r in rows))


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["contract", "national"])
def test_every_county_value_equals_the_ground_truth(built, layout):
    found = compare.mismatches(built[layout]["truth"], built[layout]["values"])
    assert not found, f"{len(found)} mismatches, first: {found[:10]}"


@pytest.mark.slow
def test_contract_and_national_landings_give_the_same_county_values(built):
    key = ["area_code", "period", "indicator_code"]
    cols = [*key, "numerator", "denominator", "value", "status"]

    def county(v):
        v = v[v.area_level == "county"][cols]
        return v.sort_values(key).reset_index(drop=True)

    a, b = county(built["contract"]["values"]), county(built["national"]["values"])
    assert len(a) == len(built["contract"]["truth"])
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow
def test_load_audit_names_the_profile_of_every_file(built):
    audit = built["national"]["audit"]
    loaded = audit[audit.status == "loaded"]
    ext = loaded.file.str.rsplit(".", n=1).str[-1]
    front = loaded.source == "inpatient_discharges"
    expected = (loaded.source + "_zh").copy()
    expected[front & (ext == "dbf")] = "inpatient_discharges_n041"
    expected[front & (ext != "dbf")] = "inpatient_discharges_hqms"
    assert (loaded.profile == expected).all(), loaded[loaded.profile != expected]
    # every layout was written and landed: DBF and both HQMS formats, the roster as .xlsx
    assert {"dbf", "csv", "xlsx"} <= set(ext[front])
    assert set(ext[loaded.source == "personnel"]) == {"xlsx"}
    assert set(loaded.source) == set(audit.source) and len(set(audit.source)) == 11
    contract = built["contract"]["audit"]
    assert (contract[contract.status == "loaded"].profile == "contract").all()
    # the same rows read, loaded, quarantined and found duplicate, file by file
    cols = ["rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate", "status"]

    def per_file(a):
        a = a.assign(file=a.file.str.rsplit(".", n=1).str[0])
        return a.set_index(["source", "period", "file"])[cols].sort_index()

    pd.testing.assert_frame_equal(per_file(contract), per_file(audit))


@pytest.mark.slow
def test_n041_facility_names_are_unique_in_each_years_register(built):
    for period, rows, names in built["national"]["names"]:
        assert rows == names, period


def _header(path: Path) -> list[str]:
    if path.suffix == ".dbf":
        from dbfread import DBF

        return [f.name for f in DBF(str(path), encoding="gbk").fields]
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True)
        return [c.value for c in next(wb.active.iter_rows(max_row=1))]
    if path.suffix == ".parquet":
        return duckdb.sql(f"describe select * from '{path}'").df().column_name.tolist()
    first = path.read_bytes().split(b"\n", 1)[0]
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        line = first.decode("gb18030")
    return next(csv.reader([line]))


def test_mixed_layouts_alternate_and_each_file_matches_one_profile(tmp_path):
    """Without landing: each file's header is chosen by exactly one profile (the loader's own
    choice), the contract's and national ones both occur in a delivery of several files."""
    landing = tmp_path / "landing"
    generate(
        landing, counties=2, years=(2024,), scale=0.02, seed=3, progress=SILENT, layouts="mixed"
    )
    profiles = Profiles.for_landing(landing)
    used: dict[str, set[str]] = {}
    for path in sorted(landing.glob("*/*/*")):
        source, period = path.parent.parent.name, path.parent.name
        if "补传" in path.name:  # the planted file missing a required column
            continue
        p, _ = profiles.choose(source, period, _header(path))
        used.setdefault(source, set()).add(p.name)
    assert used["inpatient_discharges"] >= {"contract", "inpatient_discharges_n041"}
    for source in ("outpatient_visits", "insurance_settlements", "personnel", "facilities"):
        assert {"contract", f"{source}_zh"} <= used[source], source


def test_n041_dbf_reads_back_as_written_with_dates_hours_and_gbk_names(tmp_path):
    """An N041 table from contract text: the loader's DBF reader gives the layout's values
    (dates as YYYY-MM-DD, the hour alone, the facility's name, an over-long field name cut)."""
    from orchestration.land.dbf import read_dbf

    text = pd.DataFrame(
        {
            "admission_id": ["ZY2024000001", "ZY2024000002Q1d"],
            "org_code": ["99012100001", "99012100001"],
            "mr_no": ["0000000211", "0000000212"],
            "id_no": ["990121196402040026", ""],
            "patient_name": ["丁波杰", "魏燕"],
            "sex": ["2", "1"],
            "birth_date": ["1964/02/04", "19901217"],
            "admit_time": ["2024-01-09 09:41:00", "20240301T23:05:59"],
            "discharge_time": ["2024-01-22 10:20:00", "2024-02-30 10:20:00"],
            "admit_dept": ["04", "50"],
            "main_dx_code": ["J44.100", "I10.x00"],
            "discharge_way": ["1", "7"],
            "pay_method": ["1", "9"],
            "total_cost": ["5106.79", "壹佰元"],
        }
    )
    frame, kinds, owned = layouts.to_layout(
        text, "inpatient_discharges", layouts.N041, {"99012100001": "示例一县人民医院"}
    )
    frame["export_batch"] = "B01"
    path = tmp_path / "n041.dbf"
    layouts.write_dbf(path, frame, kinds)
    assert path.read_bytes()[29] == 0x7A  # GBK
    t = read_dbf(path)
    got = dict(zip(t.names, t.columns, strict=True))
    assert got["USERNAME"] == ["示例一县人民医院"] * 2
    assert got["BAH"] == ["0000000211", "0000000212"]  # mr_no, the first part of admission_id
    assert got["ZYCS"] == ["ZY2024000001", "ZY2024000002Q1d"]
    assert got["CSRQ"] == ["1964-02-04", "1990-12-17"]
    assert got["RYSJ"] == ["2024-01-09", "2024-03-01"] and got["RYSJS"] == ["9", "23"]
    assert got["CYSJ"] == ["2024-01-22", "2024-02-30"]  # the planted bad date stays bad
    assert got["XB"] == ["女", "男"] and got["YLFKFS"] == ["01", "99"]  # the contract's aliases
    assert got["ZFY"][0] == "5106.79" and not got["ZFY"][1][0].isdigit()
    assert got["SFZH"] == ["990121196402040026", None]
    assert got["export_bat"] == ["B01", "B01"]
    assert owned["discharge_time"] == ["CYSJ", "CYSJS"]


def test_national_layouts_refuse_a_register_naming_two_facilities_alike():
    reg = pd.DataFrame({"org_code": ["A", "B"], "org_name": ["示例卫生院", "示例卫生院 "]})
    layouts.Layouts("contract").register(2024, reg)  # the contract layout names no facility
    with pytest.raises(ValueError, match="not unique"):
        layouts.Layouts("national").register(2024, reg)
