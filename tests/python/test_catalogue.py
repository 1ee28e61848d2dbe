"""The catalogue is the one place per indicator: every catalogued indicator has its folder, its
model, its tests and its roll-up, and what is rendered from the seeds is current.

(docs/adding-an-indicator.md shows the steps these tests check.)
"""

from __future__ import annotations

import csv

import yaml

from orchestration import catalogue
from orchestration.settings import PROJECT_DIR

INDICATORS = PROJECT_DIR / "models" / "intermediate" / "indicators"


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


def test_every_indicator_has_its_folder_model_tests_and_rollup():
    registry = catalogue.render_registry_sql()
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
        rollup = catalogue.ROLLUP_MODELS[row["rollup_method"]]
        assert f"'{rollup}'" in registry, (code, rollup)
        if row["rollup_method"] in ("ratio_of_sums", "growth_of_rolled_up"):
            assert f"'{model}'" in registry, (
                f"{code}: {model} missing from the ratio-of-sums roll-up"
            )


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


def test_unit_tests_pin_the_vars_their_model_reads():
    """A province's var overrides must not break hand-computed expectations."""
    import re

    defaults = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    for path in (PROJECT_DIR / "models").rglob("_*.yml"):
        for test in yaml.safe_load(path.read_text(encoding="utf-8")).get("unit_tests", []) or []:
            sql = next((PROJECT_DIR / "models").rglob(f"{test['model']}.sql")).read_text(
                encoding="utf-8"
            )
            read = set(re.findall(r"var\(\s*['\"](\w+)['\"]", sql)) & set(defaults)
            pinned = set((test.get("overrides") or {}).get("vars", {}))
            assert read <= pinned, (path.name, test["name"], read - pinned)
