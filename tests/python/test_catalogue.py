"""The catalogue is the one place per indicator: every catalogued indicator has its folder, its
model, its tests and its roll-up, and what is rendered from the seeds is current.

(docs/adding-an-indicator.md shows the steps these tests check.)
"""

from __future__ import annotations

import csv
import json
import re

import duckdb
import pytest
import yaml

from orchestration import catalogue, contract, dbt, explain, settings
from orchestration.settings import PROJECT_DIR

INDICATORS = PROJECT_DIR / "models" / "intermediate" / "indicators"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    """dbt's manifest of the project, parsed into a target folder of its own."""
    work_db = tmp_path_factory.mktemp("parse") / "parse.duckdb"
    dbt.run_dbt(["parse"], work_db)
    return json.loads((settings.dbt_target_for(work_db) / "manifest.json").read_text())


def _catalogue() -> list[dict]:
    with open(PROJECT_DIR / "seeds" / "indicator_definitions.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _folder_of(model: str):
    hits = list(INDICATORS.glob(f"*/{model}.sql"))
    return hits[0].parent if len(hits) == 1 else None


def test_committed_catalogue_renderings_are_current():
    """docs/indicators.md and macros/indicator_registry.sql are rendered from the seeds."""
    how = "render them with `python -m orchestration.catalogue`"
    assert catalogue.DOC_PATH.read_text(encoding="utf-8") == catalogue.render_indicators_md(), how
    assert catalogue.REGISTRY_PATH.read_text(encoding="utf-8") == catalogue.render_registry_sql(), (
        how
    )
    assert catalogue.CHECKS_PATH.read_text(encoding="utf-8") == catalogue.render_check_catalog(), (
        how
    )


def test_every_indicator_has_its_folder_model_and_tests():
    for row in _catalogue():
        code, model = row["indicator_code"], row["model"]
        folder = _folder_of(model)
        assert folder is not None, (
            f"{code}: model {model} is not in models/intermediate/indicators/<folder>/"
        )
        docs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in folder.glob("_*.yml")]
        assert docs, f"{code}: {folder.name} has no YAML"
        models = {m["name"]: m for d in docs for m in d.get("models", [])}
        units = [u for d in docs for u in d.get("unit_tests", [])]
        assert model in models and models[model].get("description"), (
            f"{code}: {model} not documented"
        )
        tested = models[model].get("data_tests") or [
            t for c in models[model].get("columns", []) for t in c.get("data_tests", [])
        ]
        assert tested, f"{code}: {model} has no data tests"
        assert any(u["model"] in models for u in units), f"{code}: {folder.name} has no unit test"
        # its roll-up: test_every_catalogued_model_feeds_its_roll_up_in_dbts_graph


def test_catalogue_rules_name_known_parameters_and_sources():
    with open(PROJECT_DIR / "seeds" / "parameters.csv", encoding="utf-8") as f:
        params = {r["parameter"] for r in csv.DictReader(f)}
    rows = _catalogue()
    for row in rows:
        assert row["rule_source"] in ("official_2024", "project_default"), row["indicator_code"]
        assert row["numerator_rule"] and row["denominator_rule"] and row["definition"], row[
            "indicator_code"
        ]
        unknown = {p for p in row["parameters"].split("|") if p} - params
        assert not unknown, (row["indicator_code"], unknown)
    official = {r["indicator_code"] for r in rows if r["rule_source"] == "official_2024"}
    assert official == {"I01", "I02", "I03", "I04", "I05a", "I05b", "I05c"}
    assert {r["indicator_code"]: r["frequency"] for r in rows}["I04"] == "annual"


def _vars_read(manifest: dict, node: dict, names: set[str]) -> set[str]:
    """The project vars a model reads: in its own SQL or in any macro it calls, directly or
    through other macros (dbt's manifest records both)."""
    seen, todo, read = set(), list(node["depends_on"]["macros"]), set()
    texts = [node["raw_code"]]
    while todo:
        uid = todo.pop()
        if uid in seen or uid not in manifest["macros"]:
            continue
        seen.add(uid)
        texts.append(manifest["macros"][uid]["macro_sql"])
        todo += manifest["macros"][uid]["depends_on"]["macros"]
    for text in texts:
        read |= set(re.findall(r"var\(\s*['\"](\w+)['\"]", text))
    return read & names


def test_unit_tests_pin_the_vars_their_model_reads(manifest):
    """A province's var overrides must not break hand-computed expectations: every unit test
    pins each var its model reads, also through a macro (period_sum_indicator, ...)."""
    defaults = set(yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"])
    tests = [n for n in manifest["unit_tests"].values() if n["package_name"] == "ygt"]
    assert len(tests) > 20
    missing = {}
    for test in tests:
        model = manifest["nodes"][f"model.ygt.{test['model']}"]
        pinned = set((test.get("overrides") or {}).get("vars") or {})
        unpinned = _vars_read(manifest, model, defaults) - pinned
        if unpinned:
            missing[test["name"]] = sorted(unpinned)
    assert not missing, missing


def test_every_catalogued_model_feeds_its_roll_up_in_dbts_graph(manifest):
    """What dbt actually builds: each indicator's county model is read by the roll-up model of
    its rollup_method, and that roll-up by int_indicator_values (dbt's manifest, not the
    registry rendering)."""
    nodes = manifest["nodes"]
    union = set(nodes["model.ygt.int_indicator_values"]["depends_on"]["nodes"])
    for row in _catalogue():
        rollup = f"model.ygt.{catalogue.ROLLUP_MODELS[row['rollup_method']]}"
        assert rollup in union, (row["indicator_code"], rollup)
        if row["rollup_method"] == "growth_of_rolled_up":  # the growth of a rolled-up level
            level = "model.ygt.int_indicator_values__ratio_of_sums"
            assert level in nodes[rollup]["depends_on"]["nodes"], row["indicator_code"]
            rollup = level
        upstream = set(nodes[rollup]["depends_on"]["nodes"])
        parts = "model.ygt.int_county_ratio_parts"  # the ratio roll-up reads their union
        if parts in upstream:
            upstream |= set(nodes[parts]["depends_on"]["nodes"])
        assert f"model.ygt.{row['model']}" in upstream, (row["indicator_code"], rollup)


# ----------------------------------------------------------------------------- one definition
# What `ygt explain`, the workbook and the quality gate know of an indicator is read from its
# seed row; these tests fail when a seed cell contradicts the rest of the project.


def _check_params(check_id: str) -> dict:
    with open(PROJECT_DIR / "seeds" / "dq_check_catalog.csv", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["check_id"] == check_id)
    return json.loads(row["params"])


def test_one_set_of_bounds_seed_and_range_check():
    """M01's ranges are the seed's bounds, indicator by indicator (hand-picked: a share is
    0-1, I10a 500-60,000 yuan, I05a per 10,000 residents 0-5,000, I06 a ratio 0-1), and a
    growth rate, which may be negative, has none."""
    params = _check_params("M01")
    assert params["exclude"] == []
    assert params["I07"] == [0, 1] and params["I06"] == [0, 1] and params["I14p"] == [0, 1]
    assert params["I10a"] == [500, 60000] and params["I05a"] == [0, 5000]
    assert params["I04"] == [0, 50]
    assert "I10b" not in params and "S04" not in params
    for row in _catalogue():
        code = row["indicator_code"]
        if row["value_min"]:
            assert row["bounds_severity"] in ("error", "warn"), code
            assert params[code] == [float(row["value_min"]), float(row["value_max"])], code
        else:
            assert not row["value_max"] and code not in params, code


def test_explain_facts_in_the_seed_agree_with_the_project():
    rows = {r["indicator_code"]: r for r in _catalogue()}
    defaults = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    for code, row in rows.items():
        sources = catalogue.names(row["sources"])
        assert sources and set(sources) <= set(contract.SOURCE_BY_NAME), (code, sources)
        years = row["years_read"]
        if not years.isdigit():  # a var: one the indicator lists among its parameters
            assert years in defaults and years in catalogue.names(row["parameters"]), code
        if row["rollup_method"] == "growth_of_rolled_up":  # this year and the year before
            assert years == "2", code
        assert bool(row["numerator_unit_zh"]) == bool(row["denominator_unit_zh"]), code
    assert rows["I14p"]["years_read"] == "i14_pooled_years"
    assert rows["I07"]["years_read"] == "1"
    # the facility breakdown: the codes marts.indicator_breakdown holds (the registry the mart
    # loops over), and a growth rate shows the breakdown of the level it grows from (S04's
    # level S04_cost is not published: its facilities are I10a's, restricted to primary care)
    registry = catalogue.REGISTRY_PATH.read_text(encoding="utf-8")
    listed = re.search(r"macro breakdown_indicators\(\).*?return\(\[(.*?)\]\)", registry, re.S)[1]
    in_mart = set(re.findall(r"'(\w+)'", listed))
    own = {c for c, r in rows.items() if r["breakdown_indicator"] == c}
    assert own == in_mart == {
        "I05a", "I05b", "I07", "I08", "I09", "I10a", "I11", "I12", "S01", "S02", "S05"
    }  # fmt: skip
    sql = (PROJECT_DIR / "models" / "marts" / "indicator_breakdown.sql").read_text()
    assert "breakdown_indicators()" in sql and not re.search(r"'[IS]\d\d", sql)
    for code, row in rows.items():
        if row["breakdown_indicator"]:
            assert row["breakdown_indicator"] in own, code
        if row["rollup_method"] == "growth_of_rolled_up":
            base = row["base_indicator"]
            assert row["breakdown_indicator"] == (base if base in rows else "I10a"), code
    assert explain.LEVEL_OF == {"I10b": "I10a", "S04": "I10a"}


def test_explain_reads_the_years_a_pooled_value_reads_from_the_var_in_force(monkeypatch):
    monkeypatch.delenv("YGT_DBT_VARS", raising=False)
    # dbt_project.yml pools three years: 2022-2024, every quarter of each
    assert sorted(explain.delivery_periods("I14p", "2024")) == sorted(
        ["2022", "2023", "2024"] + [f"{y}Q{q}" for y in (2022, 2023, 2024) for q in (1, 2, 3, 4)]
    )
    monkeypatch.setenv("YGT_DBT_VARS", '{"i14_pooled_years": 5}')
    assert sorted(explain.delivery_periods("I14p", "2024Q1")) == [
        "2020", "2020Q1", "2021", "2021Q1", "2022", "2022Q1", "2023", "2023Q1", "2024", "2024Q1"
    ]  # fmt: skip
    assert sorted(explain.delivery_periods("S04", "2024Q2")) == [
        "2023", "2023Q1", "2023Q2", "2024", "2024Q1", "2024Q2"
    ]  # fmt: skip
    assert explain.delivery_periods("I07", "2024Q1") == ["2024", "2024Q1"]
    # a published warehouse says which value it was built with, and that wins
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.indicator_parameters as select 'i14_pooled_years' as parameter, "
        "'var' as kind, '2' as value"
    )
    assert explain.years_read("I14p", con) == 2
    assert explain.years_read("I14p") == 5


# ----------------------------------------------------------------------------- the folders
# What only dbt knows of an indicator (its facility sum, headline place, reconciliation list,
# notes) sits in its folder's YAML meta; these tests pin what the folders say today and that
# the rendering refuses what cannot be built.


def test_each_indicator_is_described_in_the_folder_of_its_model():
    rows = catalogue.indicators()
    specs = catalogue.folder_specs()
    for code, spec in specs.items():
        # a published code: the folder of its seed model; an unpublished level (S04_cost): the
        # folder of the growth rate built on it
        owner = rows.get(code) or next(r for r in rows.values() if r["base_indicator"] == code)
        assert spec["folder"] == _folder_of(owner["model"]).name, code


def test_folder_facts_that_replaced_hand_written_lists():
    """Hand-copied from the lists the folders replaced (explain, show, the report)."""
    assert catalogue.headline() == ("I07", "I08", "I11", "I12", "I10a", "I13", "I14")
    assert catalogue.reconciliation_lists() == {
        "I04": ("reconciliation.i04_physicians", "is_counted"),
        "I13": ("reconciliation.i13_admitted_persons", "is_counted_i13"),
        "I13x": ("reconciliation.i13_admitted_persons", "is_counted_i13x"),
    }
    sums = catalogue.facility_sums()
    assert sums["I07"] == ("visits", "primary_care_visits", "visits")
    assert sums["S04_cost"] == (
        "settlements", "inpatient_cost_in_county_primary_care",
        "inpatient_admissions_in_county_primary_care",
    )  # fmt: skip
    assert sums["I05a"] == ("remote", "reports", None)
    assert set(sums) == {
        "I05a", "I05b", "I07", "I08", "I09", "I10a", "I11", "I12", "S01", "S02", "S04_cost", "S05"
    }  # fmt: skip
    reasons = {c for c, s in catalogue.folder_specs().items() if "no_value_reason" in s}
    assert reasons == {"I10b", "S04", "I14p"}


def test_checks_skipping_values_that_read_several_years_are_rendered_from_the_seed():
    """M02 (year-on-year jump) and M03 (value present) skip the growth rates and the pooled
    rate: the indicators whose value reads more than one year (seed years_read)."""
    for check in ("M02", "M03"):
        assert sorted(_check_params(check)["exclude"]) == ["I10b", "I14p", "S04"], check
    assert _check_params("M02")["max_relative_change"] == 0.5


def _project_copy(tmp_path, monkeypatch):
    """The seeds and indicator folders in tmp_path, with catalogue reading them."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in ("indicator_definitions.csv", "parameters.csv", "qualitative_items.csv"):
        (seeds / name).write_bytes((catalogue.SEEDS / name).read_bytes())
    folders = tmp_path / "indicators"
    for folder in INDICATORS.iterdir():
        (folders / folder.name).mkdir(parents=True)
        for path in folder.glob("_*.yml"):
            (folders / folder.name / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(catalogue, "SEEDS", seeds)
    monkeypatch.setattr(catalogue, "INDICATOR_FOLDERS", folders)
    monkeypatch.setattr(catalogue, "PROJECT_DIR", tmp_path)
    return seeds, folders


def _add_folder(folders, name: str, meta: dict) -> None:
    (folders / name).mkdir()
    doc = {
        "version": 2,
        "models": [{"name": f"int_indicator__{name}", "config": {"meta": {"indicators": meta}}}],
    }
    (folders / name / f"_{name}.yml").write_text(yaml.safe_dump(doc), encoding="utf-8")


def test_a_new_share_is_a_seed_row_and_a_folder(tmp_path, monkeypatch):
    seeds, folders = _project_copy(tmp_path, monkeypatch)
    path = seeds / "indicator_definitions.csv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    row = {
        **rows[-1],
        "indicator_code": "S06",
        "model": "int_indicator__s06",
        "breakdown_indicator": "S06",
    }
    with open(path, "a", encoding="utf-8", newline="") as f:
        csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n").writerow(row)
    # the seed row alone: its breakdown has no measures to sum
    with pytest.raises(ValueError, match=r"\['S06'\].*no facility_sum"):
        catalogue.render_registry_sql()
    _add_folder(folders, "s06", {"S06": {"facility_sum": {
        "family": "settlements", "numerator": "inpatient_pooled_fund_in_county",
        "denominator": "pooled_fund_in_county"}, "headline": 8}})  # fmt: skip
    registry = catalogue.render_registry_sql()
    assert (
        "'S06': ('settlements', 'inpatient_pooled_fund_in_county', 'pooled_fund_in_county')"
        in registry
    )
    assert "'int_indicator__s06'" in registry  # summed into every area level
    assert re.search(r"breakdown_indicators.*'S05', 'S06'\]", registry, re.S)
    assert catalogue.headline()[-1] == "S06"


def test_the_rendering_refuses_what_cannot_be_built(tmp_path, monkeypatch):
    _, folders = _project_copy(tmp_path, monkeypatch)
    _add_folder(
        folders, "x99", {"X99": {"facility_sum": {"family": "visits", "numerator": "visits"}}}
    )
    with pytest.raises(ValueError, match=r"\['X99'\]: not in the seed"):
        catalogue.render_registry_sql()
    (folders / "x99" / "_x99.yml").unlink()
    _add_folder(folders, "i07_again", {"I07": {"headline": 9}})
    with pytest.raises(ValueError, match="I07 is described in two folders"):
        catalogue.folder_specs()
    (folders / "i07_again" / "_i07_again.yml").unlink()
    _add_folder(folders, "typo", {"S09": {"facility_summ": {}}})
    with pytest.raises(ValueError, match="unknown keys"):
        catalogue.folder_specs()
