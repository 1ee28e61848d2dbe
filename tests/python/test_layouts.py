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

from orchestration import duck, pipeline, settings
from orchestration.generate import compare, generate
from orchestration.land.profile import Profiles

# the smallest province that writes every source and every planted defect (county idx 0 gets
# the rejected file, the quarantined and duplicate rows) and several front-page files a quarter
SIZE = dict(counties=1, years=(2024,), scale=0.05, seed=5)
SILENT = lambda m: None  # noqa: E731


def _generate(root: Path, layouts: str) -> Path:
    landing = root / layouts / "landing"
    generate(landing, layouts=layouts, progress=SILENT, **SIZE)
    return landing


def _build(root: Path, layouts: str) -> dict:
    landing = _generate(root, layouts)
    # the steps of `ygt run` up to the marts (publishing copies them unchanged)
    work_db = settings.work_db_for(root / layouts / "warehouse.duckdb")
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
    return {layouts: _build(root, layouts) for layouts in ("contract", "national")}


@pytest.mark.slow
def test_ground_truth_does_not_depend_on_the_layout(built):
    a, b = built["contract"]["truth"], built["national"]["truth"]
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 1 * (24 + 4 * 16)  # 1 county x (24 a year + 4 quarters x 16 quarterly)


@pytest.mark.slow
@pytest.mark.parametrize("layouts", ["contract", "national"])
def test_every_county_value_equals_the_ground_truth(built, layouts):
    found = compare.mismatches(built[layouts]["truth"], built[layouts]["values"])
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
