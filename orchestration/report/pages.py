"""Read a published warehouse into plain values and render the templates (see __init__)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import jinja2
from markupsafe import Markup

from orchestration import catalogue, duck
from orchestration.report import charts

GRADE_COLOURS = {"优秀": "#2e7d32", "良好": "#1565c0", "合格": "#ef8f00", "不合格": "#c62828"}
GRADE_EN = {"优秀": "excellent", "良好": "good", "合格": "pass", "不合格": "fail"}
LEVEL_ZH = {"county": "县", "city": "市", "province": "省", "national": "全国"}
UNIT_ZH = {"ratio": "比例", "yuan": "元", "per_10k": "每万人"}
TARGET_TABLES = ("marts.scoring_rules", "reference.scoring_rules")
MAX_TREND_LINES = 20  # more counties than this: trend panels per city instead
# Why an indicator can have no value although data were delivered: its folder's no_value_reason
NO_VALUE_REASONS = {
    code: spec["no_value_reason"]
    for code, spec in catalogue.folder_specs().items()
    if "no_value_reason" in spec
}
NO_VALUE_DEFAULT = "分母为零或未报送数据 a zero denominator or no data delivered for it"
STATUS_WORDS = {  # (status, severity) -> (label, css class)
    ("passed", "blocking"): ("通过 passed", "ok"), ("passed", "warning"): ("通过 passed", "ok"),
    ("failed", "warning"): ("警告 warning", "warn"),
    ("failed", "blocking"): ("阻断 blocking failure", "bad"),
    ("not_applicable", "blocking"): ("不适用 not applicable", "muted"),
    ("not_applicable", "warning"): ("不适用 not applicable", "muted"),
    ("error", "warning"): ("出错 could not run (warning)", "warn"),
    ("error", "blocking"): ("出错 could not run (blocking)", "bad"),
}  # fmt: skip
SEVERITY_WORDS = {"blocking": "阻断 blocking", "warning": "警告 warning"}
CATEGORY_WORDS = {
    "conformance": "一致性 conformance",
    "completeness": "完整性 completeness",
    "plausibility": "合理性 plausibility",
}
STAGE_WORDS = {
    "raw": "原始数据（加载后） Raw data, after landing",
    "mart": "指标结果（计算后） Indicator results, after the dbt build",
}

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("orchestration.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def write_report(warehouse: Path, out_html: Path) -> Path:
    """Write the HTML report of `warehouse` to `out_html` (atomically) and return its path."""
    return _write(warehouse, out_html, "report.html.j2", report_context)


def write_quality_page(warehouse: Path, out_html: Path) -> Path:
    """Write every check of `marts.data_quality` as an offline page and return its path."""
    return _write(warehouse, out_html, "quality.html.j2", quality_context)


def _write(warehouse: Path, out_html: Path, template: str, context) -> Path:
    warehouse = Path(warehouse).resolve()
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist; run `ygt run` first")
    con = duck.connect(warehouse, read_only=True)
    try:
        values = context(con, warehouse)
    finally:
        con.close()
    values["generated"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    values["warehouse"] = warehouse.name
    out_html = Path(out_html).resolve()
    values["links"] = sibling_links(warehouse, out_html.parent)
    page = ENV.get_template(template).render(**values)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_html.with_name(f".{out_html.name}.tmp-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out_html)
    return out_html


def sibling_pages(warehouse: Path) -> dict[str, Path]:
    """The pages `ygt run` writes beside a warehouse (pipeline.outputs_step)."""
    warehouse = Path(warehouse)
    return {
        "report": warehouse.with_name(f"{warehouse.stem}_report.html"),
        "quality": warehouse.with_name(f"{warehouse.stem}_quality.html"),
        "dbt_docs": warehouse.with_name(f"{warehouse.stem}_dbt_docs") / "index.html",
    }


def sibling_links(warehouse: Path, folder: Path) -> dict[str, str]:
    """Relative links from a page in `folder` to the pages beside the warehouse."""
    return {
        name: Path(os.path.relpath(path, folder)).as_posix()
        for name, path in sibling_pages(warehouse).items()
    }


DOCS_LINKS = (
    '<div id="ygt-links" style="position:fixed;right:14px;bottom:12px;z-index:10000;'
    "background:#fff;border:1px solid #bbb;border-radius:4px;padding:6px 10px;"
    'font:13px sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.2)">'
    '<a href="{report}">监测报告 Monitoring report</a> · '
    '<a href="{quality}">数据质量检查 Quality checks</a></div>'
)


def link_dbt_docs(warehouse: Path) -> Path:
    """Put links to the report and the quality page on the dbt docs page beside `warehouse`
    (a small fixed box; dbt's page itself is left as dbt wrote it). Idempotent."""
    index = sibling_pages(warehouse)["dbt_docs"]
    links = sibling_links(warehouse, index.parent)
    page = index.read_text(encoding="utf-8")
    if 'id="ygt-links"' not in page:
        box = Markup(DOCS_LINKS).format(**links)  # the links escaped by markupsafe
        page = page.replace("<body>", "<body>" + box, 1)
        tmp = index.with_name(f".{index.name}.tmp-{os.getpid()}")
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, index)
    return index


# ---------------------------------------------------------------- reading the warehouse


def table_names(con) -> set[str]:
    rows = con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() "
        "UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal"
    ).fetchall()
    return {r[0] for r in rows}


def columns_of(con, table: str) -> list[str]:
    schema, name = table.split(".")
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ? ORDER BY column_index",
            [schema, name],
        ).fetchall()
    ]


def query(con, sql: str, params=None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def indicator_sort_key(code: str):
    m = re.match(r"^([A-Z]+)(\d+)(.*)$", code or "")
    return (m.group(1), int(m.group(2)), m.group(3)) if m else (code or "", 0, "")


def load_catalog(con, tables: set[str]) -> dict[str, dict]:
    if "marts.indicator_catalog" not in tables:
        return {}
    return {r["indicator_code"]: r for r in query(con, "SELECT * FROM marts.indicator_catalog")}


def load_targets(con, tables: set[str]) -> dict[str, dict]:
    """{indicator_code: {target, direction}} from the first scoring-rules table found."""
    for table in TARGET_TABLES:
        if table not in tables:
            continue
        cols = columns_of(con, table)
        if "indicator_code" not in cols or "target" not in cols:
            continue
        direction = "direction" if "direction" in cols else "NULL"
        rows = query(
            con,
            f"SELECT indicator_code, any_value(target) AS target, "
            f"any_value({direction}) AS direction FROM {table} "
            "WHERE target IS NOT NULL GROUP BY indicator_code",
        )
        return {r["indicator_code"]: r for r in rows}
    return {}


# ---------------------------------------------------------------- formatting


def fmt(value, unit: str | None = None) -> str:
    if value is None:
        return "—"
    value = float(value)
    if unit == "ratio":
        return f"{100 * value:.1f}%"
    if unit == "yuan":
        return f"{value:,.0f}"
    if unit == "score":
        return f"{value:.1f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def fmt_int(value) -> str:
    return "—" if value is None else f"{int(value):,}"


def fmt_amount(value) -> str:
    """A numerator or denominator: whole counts without decimals."""
    return fmt_int(value) if value is not None and float(value).is_integer() else fmt(value)


def fmt_share(value) -> str:
    """A share as a percentage that never rounds a failure to zero."""
    if value is None:
        return "—"
    pct = 100 * float(value)
    if pct == 0:
        return "0%"
    return (f"{pct:.2f}".rstrip("0").rstrip(".") + "%") if pct >= 0.01 else "< 0.01%"


def target_of(target: dict | None, unit: str | None) -> tuple[float | None, str]:
    if not target or target.get("target") is None:
        return None, ""
    sign = {"lower_better": "≤ ", "higher_better": "≥ "}.get(target.get("direction") or "", "")
    return float(target["target"]), f"目标 target {sign}{fmt(target['target'], unit)}"


def misses_target(value, target: dict | None) -> bool:
    if value is None or not target or target.get("target") is None:
        return False
    if target.get("direction") == "lower_better":
        return float(value) > float(target["target"])
    return float(value) < float(target["target"])


def heading(code: str, catalog: dict, unit: str | None) -> dict:
    c = catalog.get(code, {})
    return {
        "code": code,
        "name_zh": c.get("name_zh") or "",
        "name_en": c.get("name_en") or "",
        "unit": f"{UNIT_ZH.get(unit, '')} {unit}" if unit else "",
    }


# ---------------------------------------------------------------- the report


def report_context(con, warehouse: Path) -> dict:
    tables = table_names(con)
    catalog = load_catalog(con, tables)
    targets = load_targets(con, tables)
    has_values = "marts.indicator_values" in tables
    latest = None
    if has_values:
        latest = con.execute(
            "SELECT max(period) FROM marts.indicator_values WHERE quarter IS NULL"
        ).fetchone()[0]
    ctx = {
        "latest": latest,
        "has_values": has_values,
        "has_targets": bool(targets),
        "quality_page": f"{warehouse.stem}_quality.html",
        "league": league(con, tables),
        "indicators": [],
        "misses": [],
        "trends": None,
        "counties": [],
        "quality": quality_summary(con, tables),
        "audit": audit(con, tables),
    }
    if has_values:
        if latest is not None:
            ctx["indicators"], ctx["misses"] = indicators(con, catalog, targets, latest)
        ctx["trends"] = trends(con, catalog, targets)
        if latest is not None:
            ctx["counties"] = county_pages(con, tables, catalog, targets, latest)
    return ctx


def league(con, tables) -> dict | None:
    if "marts.county_scorecard" not in tables:
        return None
    cols = columns_of(con, "marts.county_scorecard")
    rank = "s.rank" if "rank" in cols else "rank() OVER (PARTITION BY s.year ORDER BY s.score DESC)"
    rows = query(
        con,
        f"""
        SELECT s.county_code, s.county_name, s.year, s.score, s.grade, {rank} AS rnk,
               p.score AS previous_score
        FROM marts.county_scorecard s
        LEFT JOIN marts.county_scorecard p ON p.county_code = s.county_code AND p.year = s.year - 1
        WHERE s.year = (SELECT max(year) FROM marts.county_scorecard)
        ORDER BY rnk, s.county_code""",
    )
    if not rows:
        return {"year": None, "rows": [], "chart": None}
    for r in rows:
        r["colour"] = GRADE_COLOURS.get(r["grade"], "#222")
        r["grade_en"] = GRADE_EN.get(r["grade"], "")
        r["score_txt"] = fmt(r["score"], "score")
        r["previous_txt"] = fmt(r["previous_score"], "score")
        r["change"] = (
            "—"
            if r["previous_score"] is None or r["score"] is None
            else f"{r['score'] - r['previous_score']:+.1f}"
        )
    year = rows[0]["year"]
    items = [
        (r["county_name"] or r["county_code"], r["score"], GRADE_COLOURS.get(r["grade"], "#4e79a7"))
        for r in rows
    ]
    chart = charts.bar_chart(  # scores differ by a few points: a focused axis shows it
        items,
        lambda v: fmt(v, "score"),
        f"{year} 县域得分 county scores",
        bands=(60.0, 80.0, 90.0),
        focus=True,
    )
    return {"year": year, "rows": rows, "chart": chart}


def indicators(con, catalog, targets, latest) -> tuple[list[dict], list[dict]]:
    rows = query(
        con,
        """
        SELECT area_level, area_code, area_name, indicator_code, value, unit, status
        FROM marts.indicator_values WHERE period = ? ORDER BY area_code""",
        [latest],
    )
    by_code: dict[str, list[dict]] = {}
    for r in rows:
        by_code.setdefault(r["indicator_code"], []).append(r)
    out, misses = [], {}
    order = {"city": 0, "province": 1, "national": 2}
    for code in sorted(by_code, key=indicator_sort_key):
        recs = by_code[code]
        unit = next((r["unit"] for r in recs if r["unit"]), catalog.get(code, {}).get("unit"))
        counties = [r for r in recs if r["area_level"] == "county"]
        target, target_label = target_of(targets.get(code), unit)
        items = [
            (
                (r["area_name"] or r["area_code"]) + (f" {r['status']}" if r["status"] else ""),
                r["value"],
                "#4e79a7",
            )
            for r in counties
        ]
        missing = [r["area_name"] or r["area_code"] for r in counties if r["value"] is None]
        for r in counties:
            if misses_target(r["value"], targets.get(code)):
                misses.setdefault(r["area_name"] or r["area_code"], []).append(
                    f"{code} {fmt(r['value'], unit)}（{target_label}）"
                )
        higher = sorted(
            (r for r in recs if r["area_level"] != "county"),
            key=lambda r: (order.get(r["area_level"], 9), r["area_code"]),
        )
        out.append(
            heading(code, catalog, unit)
            | {
                "chart": charts.bar_chart(
                    items,
                    lambda v, u=unit: fmt(v, u),
                    f"{code} {latest}",
                    target=target,
                    target_label=target_label,
                )
                if any(r["value"] is not None for r in counties)
                else None,
                "no_value": missing,
                "no_value_reason": NO_VALUE_REASONS.get(code, NO_VALUE_DEFAULT),
                "higher": [
                    {
                        "name": r["area_name"] or r["area_code"],
                        "level": LEVEL_ZH.get(r["area_level"], r["area_level"]),
                        "value": fmt(r["value"], unit),
                        "status": r["status"] or "",
                    }
                    for r in higher
                ],
            }
        )
    return out, [
        {"county": k, "misses": v} for k, v in sorted(misses.items(), key=lambda kv: -len(kv[1]))
    ]


def trends(con, catalog, targets) -> dict:
    """Year-to-date trends per quarterly indicator as small multiples: one panel per county
    (per city above MAX_TREND_LINES counties), the province behind each as a reference."""
    counties = con.execute(
        "SELECT count(DISTINCT area_code) FROM marts.indicator_values WHERE area_level = 'county'"
    ).fetchone()[0]
    level = "county" if counties <= MAX_TREND_LINES else "city"
    rows = query(
        con,
        """
        SELECT area_level, area_code, area_name, year, quarter, indicator_code, value, unit
        FROM marts.indicator_values
        WHERE quarter IS NOT NULL AND area_level IN (?, 'province')
        ORDER BY year, quarter, area_level DESC, area_code""",
        [level],
    )
    quarterly = {c for c, r in catalog.items() if r.get("frequency") == "quarterly"}
    if quarterly:
        rows = [r for r in rows if r["indicator_code"] in quarterly]
    by_code: dict[str, dict[tuple, dict[int, list]]] = {}
    units: dict[str, str] = {}
    for r in rows:
        areas = by_code.setdefault(r["indicator_code"], {})
        key = (r["area_level"] == "province", r["area_code"], r["area_name"] or r["area_code"])
        years = areas.setdefault(key, {})
        years.setdefault(r["year"], [None] * 4)[r["quarter"] - 1] = r["value"]
        units.setdefault(r["indicator_code"], r["unit"])
    items = []
    for code in sorted(by_code, key=indicator_sort_key):
        panels, reference = [], None
        for (is_higher, _, name), years in sorted(by_code[code].items()):
            entry = (name, sorted(years.items()))
            if is_higher:
                reference = reference or (f"{name} [{LEVEL_ZH['province']}]", entry[1])
            else:
                panels.append(entry)
        if not panels and reference:  # a province without county rows: its own panel
            panels, reference = [(reference[0], reference[1])], None
        unit = units.get(code) or catalog.get(code, {}).get("unit")
        target, _ = target_of(targets.get(code), unit)
        items.append(
            heading(code, catalog, unit)
            | {
                "chart": charts.quarter_panels(
                    panels,
                    lambda v, u=unit: fmt(v, u),
                    f"{code} quarterly year-to-date",
                    reference=reference,
                    target=target,
                )
            }
        )
    return {"per_city": level == "city", "max_lines": MAX_TREND_LINES, "charts": items}


TOP_FACILITIES = 3


def county_pages(con, tables, catalog, targets, latest) -> list[dict]:
    """Per county: each indicator's latest value, its year-to-date quarters, its rank among the
    counties of its city and province (1 = best in the indicator's direction; cities and
    provinces by GB/T 2260 code prefix) and, when marts.indicator_breakdown exists, the
    facilities contributing most to the numerator."""
    year = int(str(latest)[:4])
    rows = query(
        con,
        """
        SELECT area_code, area_name, indicator_code, quarter, value, unit, status
        FROM marts.indicator_values
        WHERE area_level = 'county' AND year = ? ORDER BY area_code""",
        [year],
    )
    annual = [r for r in rows if r["quarter"] is None]
    ranks = {}
    for code in {r["indicator_code"] for r in annual}:
        lower_better = (
            catalog.get(code, {}).get("direction") or (targets.get(code) or {}).get("direction")
        ) == "lower_better"
        valued = [r for r in annual if r["indicator_code"] == code and r["value"] is not None]
        for scope, width in (("city", 4), ("province", 2)):
            for r in valued:
                peers = [
                    p["value"] for p in valued if p["area_code"][:width] == r["area_code"][:width]
                ]
                better = sum((p < r["value"]) if lower_better else (p > r["value"]) for p in peers)
                ranks[(r["area_code"], code, scope)] = f"{better + 1} / {len(peers)}"
    top = _top_facilities(con, tables, latest)
    quarters: dict[tuple[str, str], list] = {}
    for r in rows:
        if r["quarter"] is not None:
            quarters.setdefault((r["area_code"], r["indicator_code"]), [None] * 4)[
                r["quarter"] - 1
            ] = r["value"]
    pages: dict[str, dict] = {}
    for r in sorted(
        annual, key=lambda r: (r["area_code"], indicator_sort_key(r["indicator_code"]))
    ):
        code, unit = r["indicator_code"], r["unit"] or catalog.get(code, {}).get("unit")
        page = pages.setdefault(
            r["area_code"],
            {"code": r["area_code"], "name": r["area_name"] or r["area_code"], "rows": []},
        )
        ytd = quarters.get((r["area_code"], code))
        _, target_label = target_of(targets.get(code), unit)
        page["rows"].append(
            heading(code, catalog, unit)
            | {
                "value": fmt(r["value"], unit),
                "status": r["status"] or "",
                "reason": ""
                if r["value"] is not None
                else NO_VALUE_REASONS.get(code, NO_VALUE_DEFAULT),
                "target": target_label,
                "missed": misses_target(r["value"], targets.get(code)),
                "quarters": [fmt(v, unit) for v in ytd] if ytd else [],
                "spark": charts.sparkline(ytd, f"{code} {r['area_name']} {year} Q1–Q4")
                if ytd
                else "",
                "rank_city": ranks.get((r["area_code"], code, "city"), "—"),
                "rank_province": ranks.get((r["area_code"], code, "province"), "—"),
                "top": top.get((r["area_code"], code), []) if top is not None else None,
            }
        )
    return [{"year": year, "has_breakdown": top is not None} | p for p in pages.values()]


def _top_facilities(con, tables, period) -> dict[tuple[str, str], list[str]] | None:
    if "marts.indicator_breakdown" not in tables:
        return None
    rows = query(
        con,
        f"""
        SELECT area_code, indicator_code, facility_code, facility_name, numerator, denominator
        FROM (SELECT *, row_number() OVER (PARTITION BY area_code, indicator_code
                                           ORDER BY numerator DESC NULLS LAST, facility_code) AS n
              FROM marts.indicator_breakdown
              WHERE area_level = 'county' AND period = ? AND numerator IS NOT NULL)
        WHERE n <= {TOP_FACILITIES} ORDER BY area_code, indicator_code, n""",
        [period],
    )
    out: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        den = f" / {fmt_amount(r['denominator'])}" if r["denominator"] is not None else ""
        out.setdefault((r["area_code"], r["indicator_code"]), []).append(
            f"{r['facility_name'] or r['facility_code']} {fmt_amount(r['numerator'])}{den}"
        )
    return out


def quality_summary(con, tables) -> dict | None:
    if "marts.data_quality" not in tables:
        return None
    counts = query(
        con,
        """
        SELECT severity,
               count(*) FILTER (WHERE status = 'passed') AS passed,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               count(*) FILTER (WHERE status = 'error') AS errors,
               count(*) FILTER (WHERE status = 'not_applicable') AS not_applicable,
               count(*) AS total
        FROM marts.data_quality GROUP BY severity ORDER BY severity""",
    )
    for r in counts:
        r["severity_words"] = SEVERITY_WORDS.get(r["severity"], r["severity"])
    failed = [r for r in quality_rows(con) if r["status"] in ("failed", "error")]
    return {"counts": counts, "failed": failed}


def quality_rows(con) -> list[dict]:
    """marts.data_quality with the words an analyst reads; older warehouses lack some columns."""
    cols = set(columns_of(con, "marts.data_quality"))
    optional = ", ".join(
        f"{c}" if c in cols else f"NULL AS {c}"
        for c in ("stage", "threshold", "description", "finding", "message")
    )
    rows = query(
        con,
        f"""
        SELECT check_id, source, period, category, severity, rows_checked, rows_failed, status,
               {optional}
        FROM marts.data_quality
        ORDER BY stage, status = 'passed', status = 'not_applicable', severity, check_id, source,
                 period""",
    )
    for r in rows:
        r["status_words"], r["status_class"] = STATUS_WORDS.get(
            (r["status"], r["severity"]), (r["status"], "")
        )
        r["category_words"] = CATEGORY_WORDS.get(r["category"], r["category"])
        r["checked"] = fmt_int(r["rows_checked"])
        r["failed"] = fmt_int(r["rows_failed"])
        r["share"] = fmt_share(r["rows_failed"] / r["rows_checked"]) if r["rows_checked"] else "—"
        r["tolerated"] = fmt_share(r["threshold"])
        r["what"] = r["description"] or (r["message"] if r["status"] != "error" else "") or ""
        r["error"] = r["message"] if r["status"] == "error" else ""
        r["finding"] = r["finding"] or ""
    return rows


def audit(con, tables) -> list[dict] | None:
    if "marts.load_audit" not in tables:
        return None
    rows = query(
        con,
        """
        SELECT coalesce(source, '(total)') AS source, count(*) AS files,
               count(*) FILTER (WHERE status <> 'loaded') AS not_loaded,
               sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded,
               sum(rows_quarantined) AS rows_quarantined, sum(rows_duplicate) AS rows_duplicate,
               max(loaded_at) AS last_loaded
        FROM marts.load_audit GROUP BY ROLLUP (source) ORDER BY source = '(total)', source""",
    )
    for r in rows:
        for k in (
            "files",
            "not_loaded",
            "rows_read",
            "rows_loaded",
            "rows_quarantined",
            "rows_duplicate",
        ):
            r[k + "_txt"] = fmt_int(r[k])
    return rows


# ---------------------------------------------------------------- the quality page


def quality_context(con, warehouse: Path) -> dict:
    if "marts.data_quality" not in table_names(con):
        return {"stages": [], "blocking": 0, "warnings": 0, "total": 0, "missing": True}
    rows = quality_rows(con)
    stages = []
    for stage in sorted({r["stage"] for r in rows}, key=lambda s: (s != "raw", s or "")):
        these = [r for r in rows if r["stage"] == stage]
        stages.append(
            {
                "stage": stage,
                "title": STAGE_WORDS.get(stage, stage or "检查 Checks"),
                "rows": these,
                "problems": sum(r["status"] in ("failed", "error") for r in these),
            }
        )
    return {
        "missing": False,
        "stages": stages,
        "total": len(rows),
        "blocking": sum(
            r["status"] in ("failed", "error") and r["severity"] == "blocking" for r in rows
        ),
        "warnings": sum(
            r["status"] in ("failed", "error") and r["severity"] == "warning" for r in rows
        ),
        "by_status": _count_words(rows),
    }


def _count_words(rows: list[dict]) -> list[tuple[str, str, int]]:
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r["status_words"], r["status_class"])
        counts[key] = counts.get(key, 0) + 1
    return [(w, c, n) for (w, c), n in counts.items()]
