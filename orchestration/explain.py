"""`ygt explain`: where one published value comes from.

Everything is read from the published warehouse file, opened read-only: the rule
(marts.indicator_catalog), numerator / denominator (marts.indicator_values), the parameters in
force (marts.indicator_parameters), the facilities behind it (marts.indicator_breakdown), the
deliveries that fed it (marts.load_audit) and their quality checks (marts.data_quality). Only
the reconciliation lists (`--list`) come from the working database.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import yaml

from orchestration import catalogue, contract, duck, settings
from orchestration.periods import PeriodError, parse_period, quarters_of, shift_years
from orchestration.show import pad


class ExplainError(RuntimeError):
    """Bad input or a missing file; the message says what exists or what to do."""


# What explains each indicator comes from its row in seeds/indicator_definitions.csv
# (orchestration.catalogue): the raw sources it is computed from (the facility register resolves
# codes for most; shared with the provincial workbook's 数据来源 column), the years of deliveries
# one value reads (years_read: a number, or the dbt var that sets it), the facility breakdown
# shown for it (breakdown_indicator: a growth rate shows the level it grows from) and the units
# of numerator and denominator in Chinese.
_CATALOGUE = catalogue.indicators()
INDICATOR_SOURCES: dict[str, tuple[str, ...]] = {
    code: catalogue.names(row["sources"]) for code, row in _CATALOGUE.items()
}
LEVEL_OF = {
    code: row["breakdown_indicator"]
    for code, row in _CATALOGUE.items()
    if row["breakdown_indicator"] and row["breakdown_indicator"] != code
}
_N_UNITS = {
    code: (row["numerator_unit_zh"], row["denominator_unit_zh"])
    for code, row in _CATALOGUE.items()
    if row["numerator_unit_zh"] or row["denominator_unit_zh"]
}
UNIT_LABELS = {
    "ratio": "比例 ratio",
    "yuan": "元 yuan",
    "per_10k": "每万人 per 10,000",
    "flag": "标志 flag",
}
LEVEL_LABELS = {
    "county": "县 county",
    "city": "市 city",
    "province": "省 province",
    "national": "全国 national",
}
LEVEL_DIGITS = {"county": 6, "city": 4, "province": 2, "national": 0}
# what the indicator folders say of a code (facility sum, notes)
_FOLDERS = catalogue.folder_specs()
# Reconciliation lists in the working database: indicator -> (table, flag of the rows counted),
# from the indicator folders (reconciliation_list)
LISTS = catalogue.reconciliation_lists(_FOLDERS)


def source_label(name: str) -> str:
    src = contract.SOURCE_BY_NAME.get(name)
    return f"{name} ({src.doc})" if src and src.doc else name


def numerator_units(code: str, area_level: str) -> tuple[str, str]:
    """Units of numerator and denominator (roll-ups of county flags and statuses count counties)."""
    row = _CATALOGUE.get(code)
    if row and row["rollup_method"] == "share_of_counties_met" and area_level != "county":
        return "县", "县"
    return _N_UNITS.get(code, ("", ""))


def format_value(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{100 * value:.2f}%"
    if unit == "yuan":
        return f"{value:,.2f} 元"
    if unit == "per_10k":
        return f"{value:,.2f} /万人"
    return f"{value:g}"


def format_number(value) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _rows(con, sql: str, params=()) -> list[dict]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _period_parts(period: str) -> tuple[int, int | None]:
    try:
        return parse_period(period)
    except PeriodError as exc:
        raise ExplainError(f"--period {exc}") from None


def var_in_force(name: str, con=None) -> str:
    """A dbt var's value: as the warehouse was built (marts.indicator_parameters) when `con` is
    given and holds it, else dbt_project.yml's default replaced by YGT_DBT_VARS."""
    if con is not None:
        row = con.execute(
            "select value from marts.indicator_parameters where parameter = ? and kind = 'var'",
            [name],
        ).fetchone()
        if row is not None:
            return row[0]
    project = yaml.safe_load((settings.PROJECT_DIR / "dbt_project.yml").read_text("utf-8"))
    value = settings.dbt_var_overrides().get(name, project["vars"][name])
    return str(value)


def years_read(code: str, con=None) -> int:
    """How many years of deliveries one value of `code` reads (its year and those before it):
    the seed's years_read, a number or the name of the dbt var that sets it."""
    text = _CATALOGUE[code]["years_read"] if code in _CATALOGUE else "1"
    return int(text) if text.isdigit() else int(var_in_force(text, con))


def delivery_periods(code: str, period: str, years: int | None = None) -> list[str]:
    """The delivery periods (annual YYYY and quarterly YYYYQn) a value of `period` reads, over
    `years` years (default: `years_read(code)` with the vars in force here)."""
    year, quarter = _period_parts(period)
    years = years_read(code) if years is None else years
    out = []
    for y in range(year - years + 1, year + 1):
        out.append(str(y))
        out += quarters_of(y, quarter or 4)
    return out


def open_warehouse(warehouse: Path) -> duckdb.DuckDBPyConnection:
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise ExplainError(
            f"warehouse {warehouse} does not exist; build it with `ygt run` or `ygt demo`"
        )
    return duck.connect(warehouse, read_only=True)


def _check_choice(con, what: str, value: str, sql: str) -> None:
    existing = [r[0] for r in con.execute(sql).fetchall()]
    if value not in existing:
        shown = ", ".join(existing[:60]) + (" …" if len(existing) > 60 else "")
        raise ExplainError(f"unknown {what} {value!r}; the warehouse has: {shown}")


def explain(warehouse: Path, area: str, period: str, indicator: str, top: int = 10) -> dict:
    """Everything behind one value of marts.indicator_values, as a dict (see `render_text`)."""
    con = open_warehouse(warehouse)
    try:
        _check_choice(
            con,
            "indicator",
            indicator,
            "select indicator_code from marts.indicator_catalog order by indicator_code",
        )
        _check_choice(
            con,
            "area",
            area,
            "select distinct area_code from marts.indicator_values order by area_code",
        )
        _check_choice(
            con,
            "period",
            period,
            "select distinct period from marts.indicator_values order by period",
        )
        catalog = _rows(
            con, "select * from marts.indicator_catalog where indicator_code = ?", [indicator]
        )[0]
        values = _rows(
            con,
            "select * from marts.indicator_values where area_code = ? and period = ? "
            "and indicator_code = ?",
            [area, period, indicator],
        )
        if not values:
            periods = [
                r[0]
                for r in con.execute(
                    "select distinct period from marts.indicator_values where indicator_code = ? "
                    "order by period",
                    [indicator],
                ).fetchall()
            ]
            raise ExplainError(
                f"{indicator} is {catalog['frequency']}: no value for period {period}; "
                f"its periods: {', '.join(periods)}"
            )
        value = values[0]
        level = value["area_level"]
        result = {
            "indicator": {
                k: catalog.get(k)
                for k in (
                    "indicator_code",
                    "name_zh",
                    "name_en",
                    "dimension",
                    "unit",
                    "direction",
                    "frequency",
                    "definition",
                    "numerator_rule",
                    "denominator_rule",
                    "rule_source",
                )
            },
            "area": {"level": level, "code": area, "name": value["area_name"]},
            "period": period,
            "value": {k: value[k] for k in ("numerator", "denominator", "value", "status")},
            "units": dict(zip(("numerator", "denominator"), numerator_units(indicator, level))),
            "parameters": _parameters(con, indicator, (catalog.get("parameters") or "").split("|")),
            "comparisons": _comparisons(con, value, indicator),
            "facilities": _facilities(
                con, level, area, period, LEVEL_OF.get(indicator, indicator), top
            ),
            "deliveries": _deliveries(con, indicator, period),
            "quality_checks": _quality(con, indicator, period),
            "notes": _notes(indicator),
        }
    finally:
        con.close()
    return result


def _parameters(con, indicator: str, named: list[str]) -> list[dict]:
    """The parameters the catalogue names for the indicator, and those whose seed row lists it."""
    out = []
    for row in _rows(
        con,
        "select parameter, kind, value, indicators, description "
        "from marts.indicator_parameters order by kind desc, parameter",
    ):
        applies = (row["indicators"] or "").split()
        if indicator in applies or row["parameter"] in named:
            out.append({k: row[k] for k in ("parameter", "kind", "value", "description")})
    return out


def _comparisons(con, value: dict, indicator: str) -> list[dict]:
    area, period, level = value["area_code"], value["period"], value["area_level"]
    wanted = [("上年同期 a year earlier", level, area, shift_years(period, 1))]
    order = ["county", "city", "province", "national"]
    for higher in order[order.index(level) + 1 :]:
        digits = LEVEL_DIGITS[higher]
        code = (area[:digits] + "0" * (6 - digits)) if digits else None
        wanted.append((LEVEL_LABELS[higher], higher, code, period))
    out = []
    for label, lvl, code, per in wanted:
        sql = (
            "select area_code, area_name, period, numerator, denominator, value from marts.indicator_values "
            "where area_level = ? and period = ? and indicator_code = ?"
        )
        params = [lvl, per, indicator]
        if code is not None:
            sql += " and area_code = ?"
            params.append(code)
        rows = _rows(con, sql, params)
        if rows:
            out.append({"label": label, "area_level": lvl, **rows[0]})
        else:
            out.append(
                {
                    "label": label,
                    "area_level": lvl,
                    "area_code": code,
                    "area_name": None,
                    "period": per,
                    "numerator": None,
                    "denominator": None,
                    "value": None,
                }
            )
    return out


def _facilities(con, level: str, area: str, period: str, indicator: str, top: int) -> dict:
    """The top facilities of marts.indicator_breakdown: county rows, or their sums for a city
    or province (the national level is the sum over every county)."""
    digits = LEVEL_DIGITS[level]
    where = "period = ? and indicator_code = ?"
    params: list = [period, indicator]
    if digits:
        where += " and substring(area_code, 1, ?) = ?"
        params += [digits, area[:digits]]
    rows = _rows(
        con,
        f"""
        select facility_code, max(facility_name) as facility_name,
            max(facility_category) as facility_category, max(facility_county_code) as facility_county_code,
            sum(numerator) as numerator, sum(denominator) as denominator
        from marts.indicator_breakdown where {where}
        group by facility_code
        order by abs(sum(numerator)) desc, abs(sum(denominator)) desc, facility_code""",
        params,
    )
    total_num = sum(r["numerator"] for r in rows)
    for r in rows:
        r["share_of_numerator"] = r["numerator"] / total_num if total_num else None
        r["value"] = r["numerator"] / r["denominator"] if r["denominator"] else None
    return {"indicator_code": indicator, "count": len(rows), "top": rows[:top]}


def _deliveries(con, indicator: str, period: str) -> list[dict]:
    sources = INDICATOR_SOURCES.get(indicator, ())
    if not sources:
        return []
    periods = delivery_periods(indicator, period, years_read(indicator, con))
    return _rows(
        con,
        f"""
        select source, period, count(*) as files, sum(rows_read) as rows_read,
            sum(rows_loaded) as rows_loaded, sum(rows_quarantined) as rows_quarantined,
            sum(rows_duplicate) as rows_duplicate,
            sum(case when status = 'rejected' then 1 else 0 end) as files_rejected
        from marts.load_audit
        where source in ({duck.lit_list(sources)[1:-1]}) and period in ({duck.lit_list(periods)[1:-1]})
        group by source, period order by source, period""",
    )


def _quality(con, indicator: str, period: str) -> dict:
    sources = list(INDICATOR_SOURCES.get(indicator, ())) + ["indicator_values"]
    periods = delivery_periods(indicator, period, years_read(indicator, con))
    rows = _rows(
        con,
        f"""
        select check_id, source, period, stage, category, severity, status, rows_checked, rows_failed,
            description
        from marts.data_quality
        where source in ({duck.lit_list(sources)[1:-1]}) and period in ({duck.lit_list(periods)[1:-1]})
        order by status = 'passed', severity, check_id, source, period""",
    )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return {"counts": counts, "not_passed": [r for r in rows if r["status"] != "passed"]}


def _notes(indicator: str) -> list[str]:
    """What the facility breakdown shown is: the folder's breakdown_note, else, for a growth rate
    shown with its level's facilities, that it is not a sum over facilities."""
    own = _FOLDERS.get(indicator, {}).get("breakdown_note")
    if own:
        return [own]
    level = LEVEL_OF.get(indicator)
    if level and _CATALOGUE[indicator]["rollup_method"] == "growth_of_rolled_up":
        return [
            f"{indicator} 是增长率, 不按机构相加; 列出的是当期水平 {level} 的机构构成 "
            f"(a growth rate is not a sum over facilities: facilities of the current level {level})"
        ]
    return []


# ----------------------------------------------------------------------------- text


def render_text(r: dict) -> str:
    ind, area, v, unit = r["indicator"], r["area"], r["value"], r["indicator"]["unit"]
    nu, du = r["units"]["numerator"], r["units"]["denominator"]
    out = [
        f"{ind['indicator_code']} {ind['name_zh']} ({ind['name_en']})",
        f"区域 Area: {area['name']} {area['code']} [{LEVEL_LABELS[area['level']]}]   "
        f"期间 Period: {r['period']}   维度 Dimension: {ind['dimension']}   "
        f"频度 Frequency: {ind['frequency']}",
        "",
        f"口径 Rule: {ind['definition']}",
    ]
    if ind.get("numerator_rule"):
        out.append(f"  分子 numerator: {ind['numerator_rule']}")
    if ind.get("denominator_rule"):
        out.append(f"  分母 denominator: {ind['denominator_rule']}")
    out += [
        "",
        "计算 Computation:",
        f"  分子 numerator {format_number(v['numerator'])} {nu} / 分母 denominator "
        f"{format_number(v['denominator'])} {du} = {format_value(v['value'], unit)}"
        f"   (单位 unit: {UNIT_LABELS.get(unit, unit)})",
    ]
    if v["status"]:
        out.append(f"  达标状态 status: {v['status']}")
    if v["numerator"] is None and v["value"] is not None:
        out.append("  (分子分母不适用 no numerator/denominator at this level for this indicator)")
    out += ["", "参数 Parameters in force:"]
    out += [
        f"  {p['parameter']} = {p['value']}   — {p['description']}" for p in r["parameters"]
    ] or ["  —"]
    out += ["", "对比 Comparison:"]
    for c in r["comparisons"]:
        where = f"{c['area_name'] or ''} {c['area_code'] or ''}".strip()
        line = f"  {c['label']}: {where} {c['period']}: {format_value(c['value'], unit)}"
        if c["label"].startswith("上年") and c["value"] is not None and v["value"] is not None:
            diff = v["value"] - c["value"]
            line += (
                f"   变化 change {100 * diff:+.2f} 百分点 points"
                if unit == "ratio"
                else f"   变化 change {diff:+,.2f}"
            )
        out.append(line)
    f = r["facilities"]
    out.append("")
    if f["count"]:
        out.append(
            f"机构构成 Facilities ({f['indicator_code']}, top {len(f['top'])} of {f['count']}, "
            f"by numerator 按分子贡献):"
        )
        out.append(
            f"  {'机构代码 code':<18}{pad('名称 name', 30)}{'类别':<6}{'所在县':<9}"
            f"{'分子 num':>14}{'分母 den':>14}{'占分子 share':>13}"
        )
        for row in f["top"]:
            share = (
                "—"
                if row["share_of_numerator"] is None
                else f"{100 * row['share_of_numerator']:.1f}%"
            )
            out.append(
                f"  {row['facility_code']:<18}{pad((row['facility_name'] or '')[:14], 30)}"
                f"{row['facility_category'] or '—':<6}{row['facility_county_code'] or '县外/未登记':<9}"
                f"{format_number(row['numerator']):>14}{format_number(row['denominator']):>14}"
                f"{share:>13}"
            )
    else:
        out.append("机构构成 Facilities: 该指标不按机构相加 (not a sum over facilities)")
    out += [f"  注 note: {n}" for n in r["notes"]]
    out += [
        "",
        "数据来源 Deliveries (全省批次 province-wide deliveries of the sources; "
        "files, rows read / loaded / quarantined / duplicate, rejected files):",
    ]
    for d in r["deliveries"]:
        out.append(
            f"  {source_label(d['source'])} {d['period']}: {d['files']} files, "
            f"{d['rows_read']:,} / {d['rows_loaded']:,} / {d['rows_quarantined']:,} / "
            f"{d['rows_duplicate']:,}, rejected {d['files_rejected']}"
        )
    if not r["deliveries"]:
        out.append("  —")
    q = r["quality_checks"]
    counts = ", ".join(f"{k} {n}" for k, n in sorted(q["counts"].items())) or "none"
    out += ["", f"质量检查 Quality checks on them: {counts}"]
    for c in q["not_passed"]:
        out.append(
            f"  {c['check_id']} {c['source']} {c['period']} [{c['severity']}] {c['status']}: "
            f"{c['rows_failed']} of {c['rows_checked']} rows — {c['description']}"
        )
    return "\n".join(out)


def render_json(r: dict) -> str:
    return json.dumps(r, ensure_ascii=False, indent=2, default=str)


# ----------------------------------------------------------------------------- lists


def export_list(warehouse: Path, area: str, period: str, indicator: str, out: Path) -> int:
    """Write the reconciliation list behind a person-count value to CSV; returns the rows written."""
    if indicator not in LISTS:
        raise ExplainError(
            f"no reconciliation list for {indicator}; lists exist for {', '.join(sorted(LISTS))}"
        )
    con = open_warehouse(warehouse)
    try:
        row = con.execute(
            "select area_level from marts.indicator_values where area_code = ? limit 1", [area]
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise ExplainError(f"unknown area {area!r}")
    digits = LEVEL_DIGITS[row[0]]
    work_db = settings.work_db_for(Path(warehouse))
    if not work_db.is_file():
        raise ExplainError(
            f"the working database {work_db} is not there: reconciliation lists are kept only in the "
            f"working database of the machine that built the warehouse (never in the published file). "
            f"Run `ygt run` there, or point YGT_WORK_DB at it."
        )
    table, flag = LISTS[indicator]
    try:
        wcon = duck.connect(work_db, read_only=True)
    except duckdb.IOException as exc:
        raise ExplainError(
            f"cannot open the working database {work_db} read-only ({exc}); "
            f"is a `ygt run` still writing it? Try again when it has finished."
        ) from exc
    try:
        where, params = f"period = ? and {flag}", [period]
        if digits:
            where += " and substring(county_code, 1, ?) = ?"
            params += [digits, area[:digits]]
        try:
            cur = wcon.execute(
                f"select * from {table} where {where} order by county_code, person_key", params
            )
        except duckdb.CatalogException as exc:
            raise ExplainError(
                f"{table} is missing from {work_db}; rebuild with `ygt run`"
            ) from exc
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        wcon.close()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        w.writerows(rows)
    return len(rows)
