"""Every value traceable (issue 18), on a generated demo warehouse: the facility breakdown adds up
to the published county values, `ygt explain` reports what the marts and the landing folder
hold, the I13 reconciliation list is the numerator person by person, and the provincial
workbook reads back cell by cell as marts.indicator_values.

Expected values come from the generator's ground truth, from the landing folder on disk and
from independent SQL on the published file, never from the code under test.
"""

from __future__ import annotations

import csv
import json
import re
import shutil

import pytest
import yaml
from openpyxl import load_workbook

from orchestration import cli, duck, pipeline
from orchestration.generate import generate
from orchestration.settings import PROJECT_DIR

pytestmark = pytest.mark.slow

BREAKDOWN = ("I05a", "I05b", "I07", "I08", "I09", "I10a", "I11", "I12", "S01", "S02", "S05")
PER_10K = ("I05a", "I05b")  # denominator = residents / 10,000: not split by facility
MONEY = {"I08", "I09", "I10a", "S02"}
quiet = lambda m: None  # noqa: E731


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    generate(root / "landing", counties=3, years=(2023, 2024), scale=0.05, seed=11, progress=quiet)
    warehouse = root / "warehouse.duckdb"
    pipeline.run(root / "landing", warehouse, progress=quiet)
    return root, warehouse


def _q(warehouse, sql, params=()):
    con = duck.connect(warehouse, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _ygt(capsys, *args):
    rc = cli.main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


# ----------------------------------------------------------------------------- breakdown


def test_breakdown_sums_to_every_published_county_value_exactly(built):
    _, wh = built
    # decimal(38,2) recovers the exact cents of each double: every amount is a sum of cents
    rows = _q(
        wh,
        f"""
        with sums as (
            select area_code, period, indicator_code,
                sum(cast(numerator as decimal(38, 2))) as n, sum(cast(denominator as decimal(38, 2))) as d
            from marts.indicator_breakdown group by all)
        select v.area_code, v.period, v.indicator_code, cast(v.numerator as decimal(38, 2)),
            cast(v.denominator as decimal(38, 2)), coalesce(s.n, 0), coalesce(s.d, 0)
        from marts.indicator_values as v left join sums as s using (area_code, period, indicator_code)
        where v.area_level = 'county' and v.indicator_code in {BREAKDOWN}""",
    )
    counties = {r[0] for r in rows}
    periods = {r[1] for r in rows}
    assert len(counties) == 3 and {"2024", "2024Q1", "2023Q3"} <= periods
    assert len(rows) == 3 * len(periods) * len(BREAKDOWN)
    bad = [r for r in rows if r[3] != r[5] or (r[2] not in PER_10K and r[4] != r[6])]
    assert not bad, bad[:5]
    summed = [r for r in rows if r[2] not in PER_10K]
    assert sum(1 for r in summed if r[6] != 0) > len(summed) * 0.9  # not a sum of zeros
    assert sum(1 for r in rows if r[2] in PER_10K and r[5] != 0) > 0
    assert _q(
        wh,
        f"select count(*) from marts.indicator_breakdown where indicator_code in {PER_10K} "
        "and denominator is not null",
    ) == [(0,)]
    # codes outside the breakdown have no rows; only county rows exist
    extra = _q(
        wh,
        f"select distinct indicator_code, area_level from marts.indicator_breakdown "
        f"where indicator_code not in {BREAKDOWN} or area_level <> 'county'",
    )
    assert extra == []


def test_breakdown_sums_match_the_generators_ground_truth(built):
    root, wh = built
    with open(root / "ground_truth" / "indicators.csv", encoding="utf-8") as fh:
        truth = {
            (r["area_code"], r["period"], r["indicator_code"]): r
            for r in csv.DictReader(fh)
            if r["indicator_code"] in BREAKDOWN
        }
    sums = {
        (a, p, i): (n, d)
        for a, p, i, n, d in _q(
            wh,
            "select area_code, period, indicator_code, sum(numerator), sum(denominator) "
            "from marts.indicator_breakdown group by all",
        )
    }
    assert truth
    for key, row in truth.items():
        n, d = sums.get(key, (0.0, 0.0))
        tol = 0.005 if key[2] in MONEY else 1e-9
        assert abs(n - float(row["numerator"])) <= tol, key
        assert key[2] in PER_10K or abs(d - float(row["denominator"])) <= tol, key


def test_breakdown_settlements_list_facilities_outside_the_county(built):
    _, wh = built
    # I08's denominator covers the insured's settlements anywhere: some facilities lie outside
    # the county (another county, or not registered: category and county null)
    rows = _q(
        wh,
        "select facility_county_code, facility_category, numerator, denominator "
        "from marts.indicator_breakdown where indicator_code = 'I08' and period = '2024' "
        "and (facility_county_code is null or facility_county_code <> area_code)",
    )
    assert rows, "the demo has out-of-county settlements"
    assert all(n == 0 and d != 0 for _, _, n, d in rows)  # in-county numerator: none of theirs
    assert all(cat is None for county, cat, _, _ in rows if county is None)
    # visits: every facility is in the county and registered, with a name
    assert _q(
        wh,
        "select count(*) from marts.indicator_breakdown where indicator_code = 'I07' and "
        "(facility_county_code <> area_code or facility_name is null "
        "or facility_category is null)",
    ) == [(0,)]


def test_breakdown_and_parameters_are_documented_and_commented(built):
    _, wh = built
    for table in ("indicator_breakdown", "indicator_parameters"):
        cols = _q(
            wh,
            "select column_name, comment from duckdb_columns() where schema_name = 'marts' "
            "and table_name = ?",
            [table],
        )
        assert cols and all(
            c and re.search(r"[\u4e00-\u9fff]", c) and re.search(r"[a-z]{3}", c) for _, c in cols
        ), cols
    expected = [
        "area_level",
        "area_code",
        "area_name",
        "period",
        "year",
        "quarter",
        "indicator_code",
        "facility_code",
        "facility_name",
        "facility_category",
        "facility_county_code",
        "numerator",
        "denominator",
    ]
    got = [
        r[0]
        for r in _q(
            wh,
            "select column_name from duckdb_columns() where schema_name = 'marts' "
            "and table_name = 'indicator_breakdown' order by column_index",
        )
    ]
    assert got == expected


def test_parameters_mart_holds_the_vars_in_force(built):
    _, wh = built
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    got = dict(_q(wh, "select parameter, value from marts.indicator_parameters where kind = 'var'"))
    assert set(got) == set(project)
    for name, value in project.items():
        text = "|".join(map(str, value)) if isinstance(value, list) else str(value)
        assert got[name].lower() == text.lower(), name


# ----------------------------------------------------------------------------- explain


def test_explain_json_reports_value_comparisons_facilities_and_deliveries(built, capsys):
    root, wh = built
    county = _q(
        wh, "select min(area_code) from marts.indicator_values where area_level = 'county'"
    )[0][0]
    rc, out, _ = _ygt(
        capsys,
        "explain",
        "--warehouse",
        str(wh),
        "--area",
        county,
        "--period",
        "2024Q2",
        "--indicator",
        "I07",
        "--format",
        "json",
        "--top",
        "3",
    )
    assert rc == 0
    r = json.loads(out)
    ((n, d, v),) = _q(
        wh,
        "select numerator, denominator, value from marts.indicator_values where "
        "area_code = ? and period = '2024Q2' and indicator_code = 'I07'",
        [county],
    )
    assert (r["value"]["numerator"], r["value"]["denominator"], r["value"]["value"]) == (n, d, v)
    assert (
        r["indicator"]["definition"]
        == _q(wh, "select definition from marts.indicator_catalog where indicator_code = 'I07'")[0][
            0
        ]
    )
    comparisons = {c["label"].split()[0]: c for c in r["comparisons"]}
    ((prev,),) = _q(
        wh,
        "select value from marts.indicator_values where area_code = ? and period = '2023Q2' "
        "and indicator_code = 'I07'",
        [county],
    )
    assert comparisons["上年同期"]["value"] == prev
    ((city,),) = _q(
        wh,
        "select value from marts.indicator_values where area_level = 'city' and "
        "area_code = ? and period = '2024Q2' and indicator_code = 'I07'",
        [county[:4] + "00"],
    )
    assert comparisons["市"]["value"] == city
    # facilities: as many as the breakdown has, the largest first
    facilities = _q(
        wh,
        "select facility_code, numerator from marts.indicator_breakdown where area_code = ? "
        "and period = '2024Q2' and indicator_code = 'I07' order by numerator desc",
        [county],
    )
    assert r["facilities"]["count"] == len(facilities) and len(r["facilities"]["top"]) == 3
    assert [f["numerator"] for f in r["facilities"]["top"]] == [f[1] for f in facilities[:3]]
    # deliveries: visits of Q1 and Q2 and the 2024 register, files as on disk
    got = {(d["source"], d["period"]): d["files"] for d in r["deliveries"]}
    assert set(got) == {
        ("outpatient_visits", "2024Q1"),
        ("outpatient_visits", "2024Q2"),
        ("facilities", "2024"),
    }
    for (source, period), files in got.items():
        assert files == len(list((root / "landing" / source / period).iterdir())), (source, period)
    assert sum(r["quality_checks"]["counts"].values()) > 0


def test_explain_text_of_a_city_sums_its_counties_facilities(built, capsys):
    _, wh = built
    city = _q(wh, "select min(area_code) from marts.indicator_values where area_level = 'city'")[0][
        0
    ]
    rc, out, _ = _ygt(
        capsys,
        "explain",
        "--warehouse",
        str(wh),
        "--area",
        city,
        "--period",
        "2024",
        "--indicator",
        "I08",
        "--format",
        "json",
        "--top",
        "1000",
    )
    r = json.loads(out)
    assert rc == 0
    assert sum(f["numerator"] for f in r["facilities"]["top"]) == pytest.approx(
        r["value"]["numerator"], abs=0.01
    )
    assert sum(f["denominator"] for f in r["facilities"]["top"]) == pytest.approx(
        r["value"]["denominator"], abs=0.01
    )
    rc, text, _ = _ygt(
        capsys,
        "explain",
        "--warehouse",
        str(wh),
        "--area",
        city,
        "--period",
        "2024",
        "--indicator",
        "I08",
    )
    assert rc == 0
    for label in (
        "口径 Rule",
        "分子 numerator",
        "参数 Parameters",
        "pooled_fund_column = hifp_pay",
        "上年同期",
        "省 province",
        "机构构成 Facilities",
        "数据来源 Deliveries",
        "质量检查 Quality",
    ):
        assert label in text, label


def test_explain_unknown_inputs_list_what_exists(built, capsys):
    _, wh = built
    base = [
        "explain",
        "--warehouse",
        str(wh),
        "--area",
        "990121",
        "--period",
        "2024",
        "--indicator",
        "I07",
    ]
    for flag, bad, listed in (
        ("--area", "123456", "000000"),
        ("--period", "2031", "2024Q4"),
        ("--indicator", "I99", "I14p"),
    ):
        args = list(base)
        args[args.index(flag) + 1] = bad
        rc, _, err = _ygt(capsys, *args)
        assert rc == 2 and bad in err and listed in err, err
    rc, _, err = _ygt(
        capsys,
        "explain",
        "--warehouse",
        str(wh),
        "--area",
        "990121",
        "--period",
        "2024Q2",
        "--indicator",
        "I14",
    )
    assert rc == 2 and "annual" in err and "2024" in err


# ----------------------------------------------------------------------------- lists


def test_i13_list_is_the_numerator_person_by_person(built, capsys, tmp_path):
    _, wh = built
    county, numerator = _q(
        wh,
        "select area_code, numerator from marts.indicator_values where area_level = "
        "'county' and period = '2024' and indicator_code = 'I13' "
        "order by numerator desc limit 1",
    )[0]
    assert numerator > 0
    out = tmp_path / "i13.csv"
    rc, msg, _ = _ygt(
        capsys,
        "explain",
        "--warehouse",
        str(wh),
        "--area",
        county,
        "--period",
        "2024",
        "--indicator",
        "I13",
        "--list",
        str(out),
    )
    assert rc == 0 and str(out) in msg
    with open(out, encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == numerator and len({r["person_key"] for r in rows}) == len(rows)
    assert all(re.fullmatch(r"[0-9a-f]{64}", r["person_key"]) for r in rows)
    assert all(
        r["county_code"] == county and r["diseases"] and int(r["related_admissions"]) >= 1
        for r in rows
    )
    assert all(r["admission_list"].count(";") + 1 == int(r["admissions"]) for r in rows)
    # never in the published file
    assert _q(wh, "select count(*) from duckdb_tables() where schema_name <> 'marts'") == [(0,)]


def test_i04_list_is_the_counted_physicians(built, capsys, tmp_path):
    root, wh = built
    with open(root / "ground_truth" / "indicators.csv", encoding="utf-8") as fh:
        truth = {
            r["area_code"]: float(r["numerator"])
            for r in csv.DictReader(fh)
            if r["indicator_code"] == "I04" and r["period"] == "2024"
        }
    county = max(truth, key=truth.get)
    assert truth[county] > 0
    out = tmp_path / "i04.csv"
    rc, _, _ = _ygt(
        capsys,
        "explain",
        "--warehouse",
        str(wh),
        "--area",
        county,
        "--period",
        "2024",
        "--indicator",
        "I04",
        "--list",
        str(out),
    )
    assert rc == 0
    with open(out, encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    min_days = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"][
        "min_dispatch_days"
    ]
    assert len(rows) == truth[county]
    assert all(re.fullmatch(r"[0-9a-f]{64}", r["person_key"]) for r in rows)
    assert all(
        int(r["days"]) >= min_days and r["home_org_code"] and r["host_org_codes"] for r in rows
    )


def test_list_without_working_database_says_so(built, capsys, tmp_path):
    _, wh = built
    lone = tmp_path / "copy.duckdb"
    shutil.copy(wh, lone)
    rc, _, err = _ygt(
        capsys,
        "explain",
        "--warehouse",
        str(lone),
        "--area",
        "990121",
        "--period",
        "2024",
        "--indicator",
        "I13",
        "--list",
        str(tmp_path / "x.csv"),
    )
    assert rc == 2 and "working database" in err and "is not there" in err
    rc, _, err = _ygt(
        capsys,
        "explain",
        "--warehouse",
        str(lone),
        "--area",
        "990121",
        "--period",
        "2024",
        "--indicator",
        "I07",
        "--list",
        str(tmp_path / "x.csv"),
    )
    assert rc == 2 and "I13" in err
    # the published file alone is enough to explain
    rc, out, _ = _ygt(
        capsys,
        "explain",
        "--warehouse",
        str(lone),
        "--area",
        "990121",
        "--period",
        "2024",
        "--indicator",
        "I07",
    )
    assert rc == 0 and "I07" in out


# ----------------------------------------------------------------------------- workbook


def test_workbook_reads_back_as_indicator_values(built, capsys, tmp_path):
    _, wh = built
    out = tmp_path / "province.xlsx"
    rc, _, _ = _ygt(
        capsys, "export-xlsx", "--warehouse", str(wh), "--year", "2024", "--out", str(out)
    )
    assert rc == 0
    wb = load_workbook(out)
    values = {}
    for level, code, name, ind, n, d, v in _q(
        wh,
        "select area_level, area_code, area_name, indicator_code, numerator, denominator, value "
        "from marts.indicator_values where period = '2024' and area_level <> 'national'",
    ):
        values.setdefault((level, code, name), {})[ind] = (n, d, v)
    previous = {
        (c, i): v
        for c, i, v in _q(
            wh,
            "select area_code, indicator_code, value from "
            "marts.indicator_values where period = '2023'",
        )
    }
    assert len(wb.sheetnames) == len(values) == 3 + 1 + 1  # counties, the city, the province
    for (_level, code, _name), expected in values.items():
        ws = next(wb[t] for t in wb.sheetnames if t.endswith(code))
        header = [c.value for c in ws[1]]
        assert header == [
            "序号",
            "维度",
            "指标",
            "口径",
            "分子",
            "分母",
            "当期值",
            "单位",
            "数据来源",
            "上年值",
            "变化",
        ]
        assert ws.freeze_panes == "A2" and ws.column_dimensions["D"].width >= 40
        seen = set()
        for row in ws.iter_rows(min_row=2, values_only=True):
            ind = row[2].split()[0]
            seen.add(ind)
            n, d, v = expected[ind]
            # numbers as numbers; .xlsx keeps about 16 significant digits
            p = previous.get((code, ind))
            change = v - p if v is not None and p is not None else None
            for got, want in zip(row[4:7] + row[9:11], (n, d, v, p, change)):
                assert (got is None) == (want is None), (code, ind, got, want)
                assert want is None or got == pytest.approx(want, rel=1e-12, abs=1e-15), (code, ind)
            assert v is None or isinstance(row[6], (int, float))
        assert seen == set(expected), code
        assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == list(
            range(1, len(expected) + 1)
        )
