"""The indicator catalogue and what is rendered from it.

One place for each indicator: its row in `seeds/indicator_definitions.csv` (published as
`marts.indicator_catalog`) names its rule, unit, frequency, parameters, the dbt model of its
county values, its roll-up method and its plausible bounds; `seeds/parameters.csv` documents
every dbt var and seed with its default and `seeds/qualitative_items.csv` the checklists.
Rendered from them (`python -m orchestration.catalogue`; tests fail when a committed file
differs from its rendering):
- `docs/indicators.md`, the rules in words;
- `macros/indicator_registry.sql`, the lists the roll-up models iterate over (which county
  models each roll-up reads) and the sums over facilities of the folders (the county models
  and marts.indicator_breakdown read them), so adding an indicator is a folder and a seed row;
- the parameters of mart check M01 in `seeds/dq_check_catalog.csv`: the seed's bounds
  (value_min / value_max) per indicator, so the quality gate and the dbt bounds tests use one
  set of bounds.
`indicators()` gives the seed's rows to the code that explains values (`ygt explain`, the
workbook): their raw sources, the years of deliveries a value reads, the facility breakdown
shown for it and the units of numerator and denominator.

What only the dbt side knows sits in the indicator's folder, in the `meta: indicators:` map of
a model of `models/intermediate/indicators/<folder>/_<folder>.yml` (`folder_specs()`): the
facility sum (`facility_sum: {family, numerator, denominator}`, measures of the family's
facility table: rendered as `summed_indicators()` for the county model and
marts.indicator_breakdown), its place in `ygt show`'s headline table (`headline`), a
reconciliation list (`reconciliation_list: {model, flag}`), and the notes shown beside a value
(`breakdown_note`, `no_value_reason`).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import yaml

from orchestration.settings import PROJECT_DIR

# libyaml's loader when PyYAML has it: every command start reads the indicator folders
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DOC_PATH = PROJECT_DIR / "docs" / "indicators.md"
CHECKS_PATH = PROJECT_DIR / "seeds" / "dq_check_catalog.csv"
RANGE_CHECK = "M01"  # the mart check whose params are the seed's bounds
REGISTRY_PATH = PROJECT_DIR / "macros" / "indicator_registry.sql"
# roll-up method (seed column rollup_method) -> the model that rolls county values up that way
ROLLUP_MODELS = {
    "ratio_of_sums": "int_indicator_values__ratio_of_sums",
    "share_of_counties_met": "int_indicator_values__shares",
    "pooled_per_head": "int_indicator_values__i06",
    "growth_of_rolled_up": "int_indicator_values__growth",
    "pooled_life_table": "int_indicator_values__i14",
}
SEEDS = PROJECT_DIR / "seeds"
INDICATOR_FOLDERS = PROJECT_DIR / "models" / "intermediate" / "indicators"
FOLDER_KEYS = {
    "facility_sum",
    "headline",
    "reconciliation_list",
    "breakdown_note",
    "no_value_reason",
}
# checks of the published values that skip the indicators whose value may be missing although
# data were delivered (a growth rate, a pooled value: they read more than one year)
MULTI_YEAR_CHECKS = ("M02", "M03")
DIMENSIONS = {
    "紧密型": "tightness",
    "同质化": "homogenisation",
    "促分工": "division of labour",
    "提效能": "efficiency",
    "保健康": "health outcomes",
    "补充": "supplementary",
}
RULE_SOURCE = {
    "official_2024": "official — the 2024 edition's indicator explanations (指标说明)",
    "project_default": "project default — this warehouse's rule, built on standard health-statistics "
    "definitions; a province may change its parameters",
}
UNITS = {"ratio": "ratio (0–1)", "yuan": "yuan 元", "per_10k": "per 10,000 residents 每万常住人口"}

INTRO = """\
# Indicators — what the warehouse computes and how

<!-- Rendered from seeds/indicator_definitions.csv, seeds/parameters.csv and
seeds/qualitative_items.csv by `python -m orchestration.catalogue`. Do not edit by hand:
change the seeds and render again (a test compares this page with the rendering). -->

The monitoring indicator system for compact county medical communities, 2024 edition
(《紧密型县域医疗卫生共同体监测指标体系(2024版)》, 国卫办基层发〔2024〕22号): 14 indicators in five
dimensions, plus supplementary indicators (dimension 补充, codes S01 onwards) from the 2023
guiding opinion and provincial evaluation practice. The same rules are published in the
warehouse as `marts.indicator_catalog`.

Each rule says where it comes from: **official** rules follow the indicator explanations of the
2024 edition's attachment (held here for I01–I05); **project default** rules are this warehouse's
computation where the official text gives no formula. Parameters are dbt vars (`dbt_project.yml`,
override with `YGT_DBT_VARS`) or seeds (`seeds/`), never literals in SQL.

## Shared rules

- **Period**: `YYYY` is the calendar year; `YYYYQn` is year-to-date through quarter n (`2024Q2` =
  1 January – 30 June 2024). Quarterly indicators have both; annual ones only `YYYY`. This is the
  reporting period (`period` of the marts); a delivery's `_period` in the raw tables is the
  delivery period, where `2024Q2` is the one quarter April – June.
- **Time attribution**: a visit by `visit_time`, a HIS admission by `discharge_time`, a settlement
  row by `setl_time`, a remote report by `reported_at`, a death by `death_date`.
- **Roll-ups** to city (first 4 digits + `00`), province (first 2 + `0000`) and nation (`000000`)
  re-compute from summed numerators and denominators, never by averaging county values.
  Qualitative indicators roll up as the share of counties at 达标.
- **Reversals** (冲销) are signed rows: an original counts +1 with its amounts, a reversal −1 with
  its own (negative) amounts, each in the period of its own `setl_time`.
- **In county**: a facility (or insurance code) registered in the county in that year's facility
  register; pharmacies (`P1`, `fixmedins_type` 2) and CDCs (`J1`) are not medical facilities here.
"""


def _read(name: str) -> list[dict]:
    with open(SEEDS / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def indicators() -> dict[str, dict]:
    """The rows of seeds/indicator_definitions.csv by indicator code."""
    return {row["indicator_code"]: row for row in _read("indicator_definitions.csv")}


def names(text: str) -> tuple[str, ...]:
    """A seed cell of `|`-separated names as a tuple (empty cell: empty tuple)."""
    return tuple(n for n in (text or "").split("|") if n)


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def folder_specs() -> dict[str, dict]:
    """Indicator code -> what its folder's YAML says of it (`meta: indicators:` of its models;
    keys FOLDER_KEYS), in seed order and then the unpublished levels a growth rate is built on."""
    found: dict[str, dict] = {}
    for path in sorted(INDICATOR_FOLDERS.glob("*/_*.yml")):
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
        for model in doc.get("models") or []:
            meta = ((model.get("config") or {}).get("meta") or {}).get("indicators") or {}
            for code, spec in meta.items():
                where = f"{path.relative_to(PROJECT_DIR)} ({model['name']}): {code}"
                if code in found:
                    raise ValueError(f"{where} is described in two folders")
                unknown = set(spec) - FOLDER_KEYS
                if unknown:
                    raise ValueError(
                        f"{where}: unknown keys {sorted(unknown)}; known: {sorted(FOLDER_KEYS)}"
                    )
                found[code] = {**spec, "model": model["name"], "folder": path.parent.name}
    order = {code: i for i, code in enumerate(indicators())}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def facility_sums() -> dict[str, tuple[str, str, str | None]]:
    """Code -> (family, numerator measure, denominator measure or None) of the indicators that
    are sums over facilities (folder meta facility_sum)."""
    out = {}
    for code, spec in folder_specs().items():
        if "facility_sum" in spec:
            s = spec["facility_sum"]
            out[code] = (s["family"], s["numerator"], s.get("denominator"))
    return out


def headline() -> tuple[str, ...]:
    """The codes of `ygt show`'s headline table, in the order of their folder's `headline`."""
    ranked = [
        (spec["headline"], code) for code, spec in folder_specs().items() if "headline" in spec
    ]
    return tuple(code for _, code in sorted(ranked))


def reconciliation_lists(specs: dict[str, dict] | None = None) -> dict[str, tuple[str, str]]:
    """Code -> (table, flag of the rows counted) of the reconciliation lists (`--list`), from
    `specs` (folder_specs(), read again when not given)."""
    return {
        code: (
            f"reconciliation.{spec['reconciliation_list']['model']}",
            spec["reconciliation_list"]["flag"],
        )
        for code, spec in (specs or folder_specs()).items()
        if "reconciliation_list" in spec
    }


def multi_year_codes() -> list[str]:
    """Indicators whose one value reads more than one year (years_read not 1)."""
    return [c for c, row in indicators().items() if row["years_read"] != "1"]


def range_check_params() -> dict:
    """Check M01's params: every indicator with bounds in the seed, [value_min, value_max]
    (the quality rule takes an indicator's own range before its unit's); nothing excluded, so
    an indicator without bounds (a growth rate) is not range-checked."""
    bounds = {
        code: [_number(row["value_min"]), _number(row["value_max"])]
        for code, row in indicators().items()
        if row["value_min"] and row["value_max"]
    }
    return {**bounds, "exclude": []}


def render_check_catalog() -> str:
    """seeds/dq_check_catalog.csv with M01's params rendered from the indicator seed, and the
    `exclude` of the MULTI_YEAR_CHECKS; every other line as it is."""
    text = CHECKS_PATH.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    todo = {RANGE_CHECK, *MULTI_YEAR_CHECKS}
    multi_year = multi_year_codes()
    for i, line in enumerate(lines):
        check_id = line.split(",", 1)[0]
        if check_id not in todo:
            continue
        todo.discard(check_id)
        row = dict(zip(header, next(csv.reader([line]))))
        if check_id == RANGE_CHECK:
            params = range_check_params()
        else:
            params = {**json.loads(row["params"] or "{}"), "exclude": multi_year}
        row["params"] = json.dumps(params, ensure_ascii=False)
        out = io.StringIO()
        csv.DictWriter(out, fieldnames=header, lineterminator="\n").writerow(row)
        lines[i] = out.getvalue()
    if todo:
        raise ValueError(f"{CHECKS_PATH.name} has no check {sorted(todo)}")
    return "".join(lines)


def render_indicators_md() -> str:
    indicators = _read("indicator_definitions.csv")
    params = {p["parameter"]: p for p in _read("parameters.csv")}
    items: dict[str, list[dict]] = {}
    for item in _read("qualitative_items.csv"):
        items.setdefault(item["indicator_code"], []).append(item)
    out = [INTRO]
    out.append("## Overview\n")
    out.append("| code | indicator | unit | frequency | rule |")
    out.append("|---|---|---|---|---|")
    for ind in indicators:
        source = "official" if ind["rule_source"] == "official_2024" else "project default"
        out.append(
            f"| [{ind['indicator_code']}](#{ind['indicator_code'].lower()}) | {ind['name_zh']} "
            f"| {ind['unit']} | {ind['frequency']} | {source} |"
        )
    dimension = None
    for ind in indicators:
        if ind["dimension"] != dimension:
            dimension = ind["dimension"]
            out.append(f"\n## {dimension} — {DIMENSIONS.get(dimension, '')}\n")
        code = ind["indicator_code"]
        out.append(f"### {code}\n")
        out.append(f"**{ind['name_zh']}** — {ind['name_en']}\n")
        out.append(
            f"- Unit: {UNITS.get(ind['unit'], ind['unit'])}; frequency: {ind['frequency']}"
            f"{' (year-to-date quarters and the year)' if ind['frequency'] == 'quarterly' else ''}; "
            f"direction: {ind['direction'].replace('_', ' ')}"
        )
        out.append(f"- Numerator: {ind['numerator_rule']}")
        out.append(f"- Denominator: {ind['denominator_rule']}")
        out.append(f"- Rule: {ind['definition']}")
        out.append(f"- Rule source: {RULE_SOURCE[ind['rule_source']]}")
        names = [n for n in ind["parameters"].split("|") if n]
        if names:
            out.append("- Parameters:")
            for n in names:
                p = params[n]
                where = "dbt var" if p["kind"] == "var" else "seed"
                out.append(
                    f"  - `{n}` ({where}, default `{p['default_value']}`): {p['description']}"
                )
        if code in items:
            out.append("- Checklist items (seed `qualitative_items`):")
            for item in items[code]:
                out.append(f"  - {item['item_code']} {item['name_zh']} — {item['name_en']}")
        out.append("")
    out.append("## Every parameter\n")
    out.append("| parameter | kind | default | indicators | meaning |")
    out.append("|---|---|---|---|---|")
    for p in params.values():
        out.append(
            f"| `{p['parameter']}` | {p['kind']} | `{p['default_value']}` | {p['indicators']} "
            f"| {p['description']} |"
        )
    return "\n".join(out).rstrip() + "\n"


def _jinja_list(values) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def render_registry_sql() -> str:
    """macros/indicator_registry.sql: the catalogue's routing as Jinja lists for the roll-ups."""
    indicators = _read("indicator_definitions.csv")
    unknown = {i["rollup_method"] for i in indicators} - set(ROLLUP_MODELS)
    if unknown:
        raise ValueError(
            f"seeds/indicator_definitions.csv: unknown rollup_method {sorted(unknown)}; "
            f"known: {sorted(ROLLUP_MODELS)}"
        )
    ratio = [
        i["model"]
        for i in indicators
        if i["rollup_method"] in ("ratio_of_sums", "growth_of_rolled_up")
    ]
    ratio = list(dict.fromkeys(ratio))
    growth = {
        i["indicator_code"]: i["base_indicator"]
        for i in indicators
        if i["rollup_method"] == "growth_of_rolled_up"
    }
    rollups = list(dict.fromkeys(ROLLUP_MODELS[i["rollup_method"]] for i in indicators))
    growth_text = "{" + ", ".join(f"'{k}': '{v}'" for k, v in growth.items()) + "}"
    sums = facility_sums()
    known = {i["indicator_code"] for i in indicators} | set(growth.values())
    stray = sorted(set(sums) - known)
    if stray:
        raise ValueError(
            f"facility_sum in a folder for {stray}: not in the seed (nor a base_indicator)"
        )
    # the codes with facility rows in marts.indicator_breakdown: their own breakdown_indicator
    breakdown = [
        i["indicator_code"] for i in indicators if i["breakdown_indicator"] == i["indicator_code"]
    ]
    unsummed = [c for c in breakdown if c not in sums]
    if unsummed:
        raise ValueError(
            f"{unsummed}: breakdown_indicator is the code itself but its folder has no facility_sum"
        )
    sums_text = (
        "{\n"
        + "".join(
            f"        '{c}': ('{f}', '{n}', {repr(d) if d else 'none'}),\n"
            for c, (f, n, d) in sums.items()
        )
        + "    }"
    )
    return f"""{{#- GENERATED from seeds/indicator_definitions.csv by `python -m orchestration.catalogue`.
    Do not edit: add or change an indicator's seed row and render again (a test compares this
    file with the rendering). -#}}

{{#- County x period models summed into every area level (rollup_method ratio_of_sums, and the
    levels whose growth is computed: rollup_method growth_of_rolled_up). -#}}
{{% macro ratio_of_sums_county_models() -%}}
    {{{{ return({_jinja_list(ratio)}) }}}}
{{%- endmacro %}}

{{#- Growth indicators and the rolled-up level they are the growth of. -#}}
{{% macro growth_bases() -%}}
    {{{{ return({growth_text}) }}}}
{{%- endmacro %}}

{{#- The roll-up models whose union is int_indicator_values. -#}}
{{% macro indicator_rollup_models() -%}}
    {{{{ return({_jinja_list(rollups)}) }}}}
{{%- endmacro %}}

{{#- Sums over facilities (folder meta facility_sum): code -> (family, numerator measure,
    denominator measure or none). summed_indicator(code) sums the family's county x day table;
    marts.indicator_breakdown sums the same measures of its facility table per facility. -#}}
{{% macro summed_indicators() -%}}
    {{{{ return({sums_text}) }}}}
{{%- endmacro %}}

{{#- The codes with facility rows in marts.indicator_breakdown (breakdown_indicator = itself). -#}}
{{% macro breakdown_indicators() -%}}
    {{{{ return({_jinja_list(breakdown)}) }}}}
{{%- endmacro %}}
"""


def write_all() -> list[Path]:
    DOC_PATH.write_text(render_indicators_md(), encoding="utf-8")
    REGISTRY_PATH.write_text(render_registry_sql(), encoding="utf-8")
    CHECKS_PATH.write_text(render_check_catalog(), encoding="utf-8")
    return [DOC_PATH, REGISTRY_PATH, CHECKS_PATH]


if __name__ == "__main__":
    for path in write_all():
        print(f"wrote {path}")
