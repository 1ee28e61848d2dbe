"""Generate a small province, run the whole pipeline, compare with the generator's ground truth.

The ground truth is computed by the generator in pandas from the records it generated; the
roll-ups are recomputed here from the county truth (sum of numerators over sum of
denominators). Neither comes from the warehouse.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from orchestration import catalogue, duck, pipeline
from orchestration.generate import compare, generate

pytestmark = pytest.mark.slow

# Indicators whose roll-up is sum(numerator) / sum(denominator) of the counties.
SUMMABLE = {
    "I04",
    "I05a",
    "I05b",
    "I05c",
    "I07",
    "I08",
    "I09",
    "I10a",
    "I11",
    "I12",
    "I13",
    "I13x",
    "S01",
    "S02",
    "S03",
    "S05",
}
MONEY = compare.MONEY


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    landing = root / "landing"
    generate(
        landing, counties=3, years=(2022, 2023, 2024), scale=0.05, seed=11, progress=lambda m: None
    )
    warehouse = root / "warehouse.duckdb"
    result = pipeline.run(landing, warehouse, progress=lambda m: None)
    truth = pd.read_csv(
        root / "ground_truth" / "indicators.csv", dtype={"area_code": str, "period": str}
    )
    defects = json.loads((root / "ground_truth" / "defects.json").read_text())
    con = duck.connect(warehouse, read_only=True)
    values = con.execute("select * from marts.indicator_values").df()
    audit = con.execute("select * from marts.load_audit").df()
    con.close()
    return {
        "root": root,
        "warehouse": warehouse,
        "result": result,
        "truth": truth,
        "defects": defects,
        "values": values,
        "audit": audit,
    }


def test_every_county_indicator_matches_ground_truth(built):
    found = compare.mismatches(built["truth"], built["values"])
    assert not found, f"{len(found)} mismatches, first: {found[:10]}"
    # 3 counties x 3 years x (every indicator a year + 4 year-to-date quarters x the quarterly
    # ones): the seed's count, so a catalogued indicator without a ground-truth rule fails here
    rows = catalogue.indicators().values()
    quarterly = sum(r["frequency"] == "quarterly" for r in rows)
    assert len(built["truth"]) == 3 * 3 * (len(rows) + 4 * quarterly)


def test_comparison_finds_a_changed_value(built):
    """The comparison the benchmark relies on does fail on a wrong value."""
    values = built["values"].copy()
    row = values.index[(values.area_level == "county") & (values.indicator_code == "I07")][0]
    values.loc[row, "numerator"] += 1
    assert len(compare.mismatches(built["truth"], values)) == 1


def test_every_area_period_indicator_is_published(built):
    values, truth = built["values"], built["truth"]
    counties = set(truth.area_code)
    cities = {c[:4] + "00" for c in counties}
    provinces = {c[:2] + "0000" for c in counties}
    expected_areas = (
        {("county", c) for c in counties}
        | {("city", c) for c in cities}
        | {("province", p) for p in provinces}
        | {("national", "000000")}
    )
    for (period, code), _ in truth.groupby(["period", "indicator_code"]):
        got = set(
            map(
                tuple,
                values[(values.period == period) & (values.indicator_code == code)][
                    ["area_level", "area_code"]
                ].values,
            )
        )
        assert expected_areas <= got, (period, code, expected_areas - got)


def test_rollups_are_sums_of_county_numerators_and_denominators(built):
    truth, values = built["truth"], built["values"]
    truth = truth[truth.indicator_code.isin(SUMMABLE)].copy()
    truth["city"] = truth.area_code.str[:4] + "00"
    truth["province"] = truth.area_code.str[:2] + "0000"
    truth["national"] = "000000"
    checked = 0
    for level in ("city", "province", "national"):
        sums = (
            truth.groupby([level, "period", "indicator_code"])[["numerator", "denominator"]]
            .sum()
            .reset_index()
        )
        got = values[values.area_level == level].set_index(
            ["area_code", "period", "indicator_code"]
        )
        for row in sums.itertuples(index=False):
            g = got.loc[(getattr(row, level), row.period, row.indicator_code)]
            tol = 0.01 if row.indicator_code in MONEY else 1e-6
            assert compare.same(row.numerator, g["numerator"], tol), (level, row)
            assert compare.same(row.denominator, g["denominator"], tol), (level, row)
            if row.denominator:
                assert compare.same(
                    row.numerator / row.denominator,
                    g["value"],
                    1e-9 if row.indicator_code not in MONEY else 0.005,
                )
            checked += 1
    assert checked > 0


def test_every_row_read_is_accounted_for(built):
    audit, defects = built["audit"], built["defects"]
    loaded = audit[audit.status == "loaded"]
    assert (
        loaded.rows_read == loaded.rows_loaded + loaded.rows_quarantined + loaded.rows_duplicate
    ).all()
    assert (audit.status == "rejected").sum() == sum(
        len(d.get("rejected_files", [])) for d in defects.values() if isinstance(d, dict)
    )
    for source, d in defects.items():
        if not isinstance(d, dict) or "duplicates" not in d:
            continue
        rows = audit[audit.source == source]
        assert rows.rows_duplicate.sum() == d["duplicates"], source
        quarantined = (
            sum(d.get("quarantined", {}).values())
            if isinstance(d.get("quarantined"), dict)
            else d.get("quarantined", 0)
        )
        assert rows.rows_quarantined.sum() == quarantined, source


def test_no_clear_identifier_in_published_or_working_file(built):
    landing = built["root"] / "landing"
    # a handful of real identifiers and names straight from the landing files
    sample = pd.read_csv(
        next((landing / "deaths").rglob("*.csv")), dtype=str, encoding_errors="ignore"
    )
    needles = [v for v in sample["id_no"].dropna().head(20)]
    for path in (built["warehouse"], built["result"].work_db):
        blob = Path(path).read_bytes()
        for n in needles:
            assert n.encode() not in blob, f"clear identifier found in {path}"


def test_cli_run_is_idempotent_and_exits_zero(built):
    env = dict(os.environ)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestration.cli",
            "run",
            "--landing",
            str(built["root"] / "landing"),
            "--warehouse",
            str(built["warehouse"]),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    con = duck.connect(built["warehouse"], read_only=True)
    again = con.execute("select * from marts.indicator_values").df()
    con.close()
    cols = [
        "area_level",
        "area_code",
        "period",
        "indicator_code",
        "numerator",
        "denominator",
        "value",
    ]
    a = built["values"][cols].sort_values(cols[:4]).reset_index(drop=True)
    b = again[cols].sort_values(cols[:4]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_published_file_documents_itself(built):
    """Every public table and column carries its description (COMMENT ON, what SQL clients and
    BI tools show) and the dbt docs page is published next to the warehouse."""
    import yaml

    documented = {}
    for yml in (Path(__file__).resolve().parents[2] / "models" / "marts").glob("_*.yml"):
        for model in yaml.safe_load(yml.read_text(encoding="utf-8")).get("models", []):
            documented[model["name"]] = {
                c["name"] for c in model.get("columns", []) if c.get("description")
            }
    con = duck.connect(built["warehouse"], read_only=True)
    tables = dict(
        con.execute(
            "select table_name, comment from duckdb_tables() where schema_name = 'marts'"
        ).fetchall()
    )
    columns = con.execute(
        "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'"
    ).fetchall()
    con.close()
    assert set(tables) == set(documented), "every published table is a documented public mart"
    assert all(tables.values()), [t for t, c in tables.items() if not c]
    for table, column, comment in columns:
        assert column in documented[table], (
            f"marts.{table}.{column} has no description in the dbt YAML"
        )
        assert comment, f"marts.{table}.{column} has no COMMENT"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in comment), (
            f"marts.{table}.{column}: no Chinese label"
        )

    page = built["result"].outputs["dbt docs"]
    assert page == built["warehouse"].with_name("warehouse_dbt_docs") / "index.html"
    html = page.read_text(encoding="utf-8")
    assert "county_scorecard" in html and "indicator_values" in html


def test_run_is_recorded_in_dagster(built):
    """`ygt run` leaves its landings, dbt models and gate results in the Dagster instance; the
    models are read from the manifest of the build's own dbt target folder."""
    import dagster as dg

    from dagster_project.history import record_run

    instance = dg.DagsterInstance.ephemeral()
    record_run(built["result"], instance=instance)
    for key in (
        ["raw", "outpatient_visits"],
        ["marts", "indicator_values"],
        ["published_warehouse"],
    ):
        assert instance.get_latest_materialization_event(dg.AssetKey(key)) is not None, key
