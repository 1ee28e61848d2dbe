"""A static HTML report of a published warehouse, readable offline.

`write_report(warehouse, out_html)` reads the published file read-only and writes one
self-contained HTML file: no JavaScript, no external CSS, fonts or images — the charts are
inline SVG drawn here. Sections: county league table (from `marts.county_scorecard` when the
warehouse has it), each indicator by county against its target (targets from a
`scoring_rules` table when present), quarterly year-to-date trends, data-quality status and
load-audit totals. Labels are Chinese with English beside them; every text is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
from pathlib import Path

from orchestration import duck

GRADE_COLOURS = {"优秀": "#2e7d32", "良好": "#1565c0", "合格": "#ef8f00", "不合格": "#c62828"}
GRADE_EN = {"优秀": "excellent", "良好": "good", "合格": "pass", "不合格": "fail"}
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
LEVEL_ZH = {"county": "县", "city": "市", "province": "省", "national": "全国"}
UNIT_ZH = {"ratio": "比例", "yuan": "元", "per_10k": "每万人", "flag": "是/否"}
TARGET_TABLES = ("reference.scoring_rules", "marts.scoring_rules")
MAX_TREND_LINES = 10  # more counties than this: trend lines per city instead

CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif;
margin:24px auto;max-width:1100px;color:#222;line-height:1.45;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{border-bottom:2px solid #4e79a7;padding-bottom:4px;margin-top:36px}
h3{font-size:16px;margin:22px 0 4px}.en{color:#666;font-weight:normal}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f0f3f7}.note{background:#fff8e1;border-left:4px solid #ef8f00;padding:8px 12px}
.ok{color:#2e7d32}.bad{color:#c62828;font-weight:bold}.muted{color:#666;font-size:13px}
.legend span{display:inline-block;margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:18px;height:4px;margin-right:4px;vertical-align:middle}
nav a{margin-right:14px}svg{display:block;margin:4px 0 8px}
"""


def e(value) -> str:
    """Escape any value for HTML text or attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def write_report(warehouse: Path, out_html: Path) -> Path:
    """Write the HTML report of `warehouse` to `out_html` (atomically) and return its path."""
    warehouse = Path(warehouse).resolve()
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist; run `ygt run` first")
    con = duck.connect(warehouse, read_only=True)
    try:
        body = build_body(con, warehouse)
    finally:
        con.close()
    page = (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>县域医共体监测报告 County medical community monitoring report</title>"
        f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )
    out_html = Path(out_html).resolve()
    out_html.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_html.with_name(f".{out_html.name}.tmp-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out_html)
    return out_html


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
            f"SELECT indicator_code, any_value(target) AS target, any_value({direction}) AS direction "
            f"FROM {table} WHERE target IS NOT NULL GROUP BY indicator_code",
        )
        return {r["indicator_code"]: r for r in rows}
    return {}


# ---------------------------------------------------------------- formatting


def fmt(value, unit: str | None) -> str:
    if value is None:
        return "—"
    value = float(value)
    if unit == "ratio":
        return f"{100 * value:.1f}%"
    if unit == "yuan":
        return f"{value:,.0f}"
    if unit == "flag":
        return "是 yes" if value >= 0.5 else "否 no"
    if unit == "score":
        return f"{value:.1f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def fmt_int(value) -> str:
    return "—" if value is None else f"{int(value):,}"


def bilingual(zh: str, en: str) -> str:
    return f"{e(zh)} <span class=\"en\">{e(en)}</span>"


def html_table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """`headers` are trusted HTML; `rows` cells must already be escaped HTML."""
    out = ["<table><thead><tr>", "".join(f"<th>{h}</th>" for h in headers), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(
            f"<td class=\"num\">{c}</td>" if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row)
        ) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


# ---------------------------------------------------------------- SVG charts


def _nice_range(values: list[float], include_zero: bool) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if include_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        hi = hi + (abs(hi) or 1.0) * 0.1
        if not include_zero:
            lo = lo - (abs(lo) or 1.0) * 0.1
    pad = (hi - lo) * 0.08
    if not (include_zero and lo == 0):
        lo = lo - pad
    return lo, hi + pad


def bar_chart(items: list[tuple[str, float | None, str]], unit: str | None, title: str,
              target: float | None = None, target_label: str = "",
              bands: tuple[float, ...] = ()) -> str:
    """Horizontal bars: items = (label, value, colour). A dashed red line marks the target."""
    shown = [v for _, v, _ in items if v is not None]
    if not shown:
        return "<p class=\"muted\">无数据 no data</p>"
    scale_values = shown + ([target] if target is not None else []) + list(bands)
    lo, hi = _nice_range([float(v) for v in scale_values], include_zero=True)
    left, right, row, top = 170, 110, 24, 26
    width = 820
    plot = width - left - right
    height = top + row * len(items) + 10

    def x(v: float) -> float:
        return left + (float(v) - lo) / (hi - lo) * plot

    parts = [f"<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" "
             f"aria-label=\"{e(title)}\"><title>{e(title)}</title>"]
    for b in bands:
        parts.append(f"<line x1=\"{x(b):.1f}\" y1=\"{top - 6}\" x2=\"{x(b):.1f}\" y2=\"{height - 8}\" "
                     "stroke=\"#bbb\" stroke-dasharray=\"2,3\"/>"
                     f"<text x=\"{x(b):.1f}\" y=\"{top - 10}\" font-size=\"11\" text-anchor=\"middle\" "
                     f"fill=\"#888\">{e(fmt(b, unit))}</text>")
    zero = x(0.0)
    for i, (label, value, colour) in enumerate(items):
        y = top + i * row
        parts.append(f"<text x=\"{left - 8}\" y=\"{y + 16}\" font-size=\"13\" text-anchor=\"end\">{e(label)}</text>")
        if value is None:
            parts.append(f"<text x=\"{zero + 4:.1f}\" y=\"{y + 16}\" font-size=\"12\" fill=\"#888\">—</text>")
            continue
        x0, x1 = sorted((zero, x(value)))
        parts.append(f"<rect x=\"{x0:.1f}\" y=\"{y + 3}\" width=\"{max(x1 - x0, 1):.1f}\" height=\"{row - 6}\" "
                     f"fill=\"{e(colour)}\"><title>{e(label)}: {e(fmt(value, unit))}</title></rect>")
        parts.append(f"<text x=\"{x1 + 4:.1f}\" y=\"{y + 16}\" font-size=\"12\">{e(fmt(value, unit))}</text>")
    parts.append(f"<line x1=\"{zero:.1f}\" y1=\"{top - 2}\" x2=\"{zero:.1f}\" y2=\"{height - 8}\" stroke=\"#444\"/>")
    if target is not None:
        tx = x(target)
        parts.append(f"<line x1=\"{tx:.1f}\" y1=\"{top - 6}\" x2=\"{tx:.1f}\" y2=\"{height - 6}\" "
                     "stroke=\"#c62828\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>"
                     f"<text x=\"{tx:.1f}\" y=\"{top - 10}\" font-size=\"12\" text-anchor=\"middle\" "
                     f"fill=\"#c62828\">{e(target_label)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def line_chart(x_labels: list[str], series: list[tuple[str, list[float | None], str, bool]],
               unit: str | None, title: str, target: float | None = None) -> str:
    """Lines over periods: series = (name, values per x label, colour, dashed)."""
    values = [v for _, vs, _, _ in series for v in vs if v is not None]
    if not values or not x_labels:
        return "<p class=\"muted\">无数据 no data</p>"
    lo, hi = _nice_range([float(v) for v in values] + ([target] if target is not None else []),
                         include_zero=False)
    width, height, left, right, top, bottom = 820, 280, 70, 20, 16, 34
    pw, ph = width - left - right, height - top - bottom
    step = pw / max(len(x_labels) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + i * step, top + ph - (float(v) - lo) / (hi - lo) * ph

    parts = [f"<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" "
             f"aria-label=\"{e(title)}\"><title>{e(title)}</title>"]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        _, y = xy(0, v)
        parts.append(f"<line x1=\"{left}\" y1=\"{y:.1f}\" x2=\"{width - right}\" y2=\"{y:.1f}\" stroke=\"#e5e5e5\"/>"
                     f"<text x=\"{left - 6}\" y=\"{y + 4:.1f}\" font-size=\"11\" text-anchor=\"end\" "
                     f"fill=\"#555\">{e(fmt(v, unit if unit != 'flag' else None))}</text>")
    for i, label in enumerate(x_labels):
        x, _ = xy(i, lo)
        parts.append(f"<text x=\"{x:.1f}\" y=\"{height - 12}\" font-size=\"11\" text-anchor=\"middle\" "
                     f"fill=\"#555\">{e(label)}</text>")
    if target is not None:
        _, ty = xy(0, target)
        parts.append(f"<line x1=\"{left}\" y1=\"{ty:.1f}\" x2=\"{width - right}\" y2=\"{ty:.1f}\" "
                     "stroke=\"#c62828\" stroke-width=\"1.5\" stroke-dasharray=\"6,4\"/>")
    for name, vals, colour, dashed in series:
        dash = " stroke-dasharray=\"7,4\"" if dashed else ""
        segment: list[str] = []
        segments = []
        for i, v in enumerate(vals):
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            x, y = xy(i, v)
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(f"<circle cx=\"{x:.1f}\" cy=\"{y:.1f}\" r=\"3\" fill=\"{e(colour)}\">"
                         f"<title>{e(name)} {e(x_labels[i])}: {e(fmt(v, unit))}</title></circle>")
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f"<polyline points=\"{' '.join(seg)}\" fill=\"none\" stroke=\"{e(colour)}\" "
                             f"stroke-width=\"2\"{dash}/>")
    parts.append("</svg>")
    legend = "".join(
        f"<span><i style=\"background:{e(c)}\"></i>{e(n)}</span>" for n, _, c, _ in series
    )
    if target is not None:
        legend += "<span><i style=\"background:#c62828\"></i>目标 target</span>"
    return "".join(parts) + f"<div class=\"legend\">{legend}</div>"


# ---------------------------------------------------------------- sections


def build_body(con, warehouse: Path) -> str:
    tables = table_names(con)
    catalog = load_catalog(con, tables)
    targets = load_targets(con, tables)
    has_values = "marts.indicator_values" in tables
    latest = None
    if has_values:
        latest = con.execute(
            "SELECT max(period) FROM marts.indicator_values WHERE quarter IS NULL"
        ).fetchone()[0]
    generated = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = [
        f"<h1>{bilingual('县域医共体监测报告', 'County medical community monitoring report')}</h1>",
        f"<p class=\"muted\">仓库 warehouse: {e(warehouse.name)} · 最新年度 latest year: {e(latest or '—')} · "
        f"生成于 generated {e(generated)}</p>",
        "<nav><a href=\"#league\">县域排名 League table</a><a href=\"#indicators\">指标与目标 Indicators</a>"
        "<a href=\"#trends\">季度趋势 Trends</a><a href=\"#quality\">数据质量 Data quality</a>"
        "<a href=\"#audit\">加载审计 Load audit</a></nav>",
        section_league(con, tables),
    ]
    if has_values:
        out.append(section_indicators(con, tables, catalog, targets, latest))
        out.append(section_trends(con, tables, catalog, targets))
    else:
        out.append(f"<h2 id=\"indicators\">{bilingual('指标', 'Indicators')}</h2><p class=\"note\">"
                   "本仓库没有 marts.indicator_values 表，指标与趋势从略。 The warehouse has no table "
                   "marts.indicator_values; indicators and trends are omitted.</p>")
    out += [
        section_quality(con, tables),
        section_audit(con, tables),
    ]
    return "\n".join(out)


def section_league(con, tables: set[str]) -> str:
    head = f"<h2 id=\"league\">{bilingual('县域排名', 'County league table')}</h2>"
    if "marts.county_scorecard" not in tables:
        return head + ("<p class=\"note\">本仓库尚无 marts.county_scorecard（县域评分）表，排名从略。"
                       " This warehouse has no marts.county_scorecard table yet, so the league table "
                       "is omitted.</p>")
    cols = columns_of(con, "marts.county_scorecard")
    rank = "s.rank" if "rank" in cols else "rank() OVER (PARTITION BY s.year ORDER BY s.score DESC)"
    rows = query(con, f"""
        SELECT s.county_code, s.county_name, s.year, s.score, s.grade, {rank} AS rnk,
               p.score AS previous_score
        FROM marts.county_scorecard s
        LEFT JOIN marts.county_scorecard p ON p.county_code = s.county_code AND p.year = s.year - 1
        WHERE s.year = (SELECT max(year) FROM marts.county_scorecard)
        ORDER BY rnk, s.county_code""")
    if not rows:
        return head + "<p class=\"note\">marts.county_scorecard 为空 The scorecard is empty.</p>"
    year = rows[0]["year"]
    body = [html_table(
        ["名次 Rank", "县 County", "代码 Code", "得分 Score", "等级 Grade", f"{e(year - 1)} 得分 Score", "变化 Change"],
        [[e(r["rnk"]), e(r["county_name"]), e(r["county_code"]),
          e("—" if r["score"] is None else f"{r['score']:.1f}"),
          f"<span style=\"color:{e(GRADE_COLOURS.get(r['grade'], '#222'))}\">{e(r['grade'])} "
          f"{e(GRADE_EN.get(r['grade'], ''))}</span>",
          e("—" if r["previous_score"] is None else f"{r['previous_score']:.1f}"),
          e("—" if r["previous_score"] is None or r["score"] is None
            else f"{r['score'] - r['previous_score']:+.1f}")]
         for r in rows],
        numeric={0, 3, 5, 6},
    )]
    items = [(r["county_name"] or r["county_code"], r["score"], GRADE_COLOURS.get(r["grade"], "#4e79a7"))
             for r in rows]
    body.append(bar_chart(items, "score", f"{year} 县域得分 county scores", bands=(60.0, 80.0, 90.0)))
    body.append("<p class=\"muted\">等级 Grades: ≥90 优秀 excellent, 80–&lt;90 良好 good, 60–&lt;80 合格 pass, "
                "&lt;60 不合格 fail. 权重和目标为示例配置 weights and targets are an example configuration.</p>")
    return head + f"<h3>{e(year)} 年</h3>" + "".join(body)


def _indicator_heading(code: str, catalog: dict, unit: str | None) -> str:
    c = catalog.get(code, {})
    zh, en = c.get("name_zh") or "", c.get("name_en") or ""
    unit_txt = f"{UNIT_ZH.get(unit, '')} {unit}" if unit else ""
    return f"<h3>{e(code)} {e(zh)} <span class=\"en\">{e(en)} · {e(unit_txt)}</span></h3>"


def _target_label(target: dict | None, unit: str | None) -> tuple[float | None, str]:
    if not target or target.get("target") is None:
        return None, ""
    sign = {"lower_better": "≤ ", "higher_better": "≥ "}.get(target.get("direction") or "", "")
    return float(target["target"]), f"目标 target {sign}{fmt(target['target'], unit)}"


def section_indicators(con, tables, catalog, targets, latest) -> str:
    head = f"<h2 id=\"indicators\">{bilingual('各县指标与目标', 'Each indicator by county against its target')}</h2>"
    if latest is None:
        return head + "<p class=\"note\">没有年度数据 No annual rows in marts.indicator_values.</p>"
    rows = query(con, """
        SELECT area_level, area_code, area_name, indicator_code, value, unit, status
        FROM marts.indicator_values WHERE period = ? ORDER BY area_code""", [latest])
    by_code: dict[str, list[dict]] = {}
    for r in rows:
        by_code.setdefault(r["indicator_code"], []).append(r)
    note = ("" if targets else "<p class=\"note\">本仓库没有评分规则表 (scoring_rules)，只显示指标值。"
            " No scoring_rules table in this warehouse: values are shown without targets.</p>")
    out = [head, f"<p class=\"muted\">{e(latest)} 年度值；红色虚线为目标 the red dashed line is the target; "
                 "上级汇总为分子分母合计后重算 roll-ups re-computed from summed numerators and denominators.</p>", note]
    for code in sorted(by_code, key=indicator_sort_key):
        recs = by_code[code]
        unit = next((r["unit"] for r in recs if r["unit"]), catalog.get(code, {}).get("unit"))
        counties = [r for r in recs if r["area_level"] == "county"]
        target, target_label = _target_label(targets.get(code), unit)
        items = []
        for r in counties:
            label = r["area_name"] or r["area_code"]
            items.append((label + (f" {r['status']}" if r["status"] else ""), r["value"], "#4e79a7"))
        out.append(_indicator_heading(code, catalog, unit))
        out.append(bar_chart(items, unit, f"{code} {latest}", target=target, target_label=target_label))
        higher = [r for r in recs if r["area_level"] != "county"]
        if higher:
            order = {"city": 0, "province": 1, "national": 2}
            higher.sort(key=lambda r: (order.get(r["area_level"], 9), r["area_code"]))
            out.append("<p class=\"muted\">" + " · ".join(
                f"{e(r['area_name'] or r['area_code'])} [{e(LEVEL_ZH.get(r['area_level'], r['area_level']))}] "
                f"{e(fmt(r['value'], unit))}{(' ' + e(r['status'])) if r['status'] else ''}"
                for r in higher) + "</p>")
    return "".join(out)


def section_trends(con, tables, catalog, targets) -> str:
    counties = con.execute(
        "SELECT count(DISTINCT area_code) FROM marts.indicator_values WHERE area_level = 'county'"
    ).fetchone()[0]
    level = "county" if counties <= MAX_TREND_LINES else "city"
    head = (f"<h2 id=\"trends\">{bilingual('季度趋势', 'Quarterly trends')}</h2>"
            "<p class=\"muted\">年内累计 year-to-date: 2024Q2 = 1–6 月 Jan–Jun; Q4 等于全年 equals the year. "
            "虚线为省 dashed lines are provinces.</p>")
    if level == "city":
        head += (f"<p class=\"muted\">县多于 {MAX_TREND_LINES} 个，趋势图按市显示 more than "
                 f"{MAX_TREND_LINES} counties: trends are drawn per city.</p>")
    rows = query(con, """
        SELECT area_level, area_code, area_name, period, year, quarter, indicator_code, value, unit
        FROM marts.indicator_values
        WHERE quarter IS NOT NULL AND area_level IN (?, 'province') AND coalesce(unit, '') <> 'flag'
        ORDER BY year, quarter, area_level DESC, area_code""", [level])
    quarterly = {c for c, r in catalog.items() if r.get("frequency") == "quarterly"}
    if quarterly:
        rows = [r for r in rows if r["indicator_code"] in quarterly]
    if not rows:
        return head + "<p class=\"note\">没有季度数据 No quarterly rows in marts.indicator_values.</p>"
    periods = sorted({(r["year"], r["quarter"]) for r in rows})
    labels = [f"{y}Q{q}" for y, q in periods]
    pos = {p: i for i, p in enumerate(periods)}
    by_code: dict[str, dict[tuple, list]] = {}
    units: dict[str, str] = {}
    for r in rows:
        areas = by_code.setdefault(r["indicator_code"], {})
        key = (r["area_level"] == "province", r["area_code"], r["area_name"] or r["area_code"], r["area_level"])
        areas.setdefault(key, [None] * len(periods))[pos[(r["year"], r["quarter"])]] = r["value"]
        units.setdefault(r["indicator_code"], r["unit"])
    out = [head]
    for code in sorted(by_code, key=indicator_sort_key):
        series = []
        for i, (key, vals) in enumerate(sorted(by_code[code].items())):
            is_higher, _, name, level = key
            colour = "#333333" if is_higher else PALETTE[i % len(PALETTE)]
            series.append((f"{name} [{LEVEL_ZH.get(level, level)}]", vals, colour, is_higher))
        unit = units.get(code) or catalog.get(code, {}).get("unit")
        target, _ = _target_label(targets.get(code), unit)
        out.append(_indicator_heading(code, catalog, unit))
        out.append(line_chart(labels, series, unit, f"{code} quarterly trend", target=target))
    return "".join(out)


def section_quality(con, tables) -> str:
    head = f"<h2 id=\"quality\">{bilingual('数据质量', 'Data-quality status')}</h2>"
    if "marts.data_quality" not in tables:
        return head + "<p class=\"note\">本仓库没有 marts.data_quality 表 No marts.data_quality table.</p>"
    counts = query(con, """
        SELECT severity,
               count(*) FILTER (WHERE status = 'passed') AS passed,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               count(*) FILTER (WHERE status = 'error') AS errors,
               count(*) FILTER (WHERE status = 'not_applicable') AS not_applicable,
               count(*) AS total
        FROM marts.data_quality GROUP BY severity ORDER BY severity""")
    sev = {"blocking": "阻断 blocking", "warning": "警告 warning"}
    out = [head, html_table(
        ["严重度 Severity", "通过 Passed", "未通过 Failed", "出错 Error", "不适用 N/A", "合计 Total"],
        [[e(sev.get(r["severity"], r["severity"])), fmt_int(r["passed"]),
          f"<span class=\"{'bad' if r['failed'] else 'ok'}\">{fmt_int(r['failed'])}</span>",
          f"<span class=\"{'bad' if r['errors'] else 'ok'}\">{fmt_int(r['errors'])}</span>",
          fmt_int(r["not_applicable"]), fmt_int(r["total"])] for r in counts],
        numeric={1, 2, 3, 4, 5},
    )]
    failed = query(con, """
        SELECT check_id, source, period, category, severity, rows_checked, rows_failed, status
        FROM marts.data_quality WHERE status IN ('failed', 'error')
        ORDER BY severity, check_id, source, period""")
    if failed:
        out.append(f"<h3>未通过的检查 Failed checks ({len(failed)})</h3>")
        out.append(html_table(
            ["检查 Check", "来源 Source", "期间 Period", "类别 Category", "严重度 Severity",
             "检查行数 Rows checked", "失败行数 Rows failed", "状态 Status"],
            [[e(r["check_id"]), e(r["source"]), e(r["period"]), e(r["category"]),
              e(sev.get(r["severity"], r["severity"])), fmt_int(r["rows_checked"]),
              fmt_int(r["rows_failed"]), e(r["status"])] for r in failed],
            numeric={5, 6},
        ))
    else:
        out.append("<p class=\"ok\">所有检查均通过 No failed checks.</p>")
    return "".join(out)


def section_audit(con, tables) -> str:
    head = f"<h2 id=\"audit\">{bilingual('数据加载审计', 'Load audit totals')}</h2>"
    if "marts.load_audit" not in tables:
        return head + "<p class=\"note\">本仓库没有 marts.load_audit 表 No marts.load_audit table.</p>"
    rows = query(con, """
        SELECT coalesce(source, '(total)') AS source, count(*) AS files,
               count(*) FILTER (WHERE status <> 'loaded') AS not_loaded,
               sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded,
               sum(rows_quarantined) AS rows_quarantined, sum(rows_duplicate) AS rows_duplicate,
               max(loaded_at) AS last_loaded
        FROM marts.load_audit GROUP BY ROLLUP (source) ORDER BY source = '(total)', source""")
    return head + html_table(
        ["来源 Source", "文件 Files", "未加载 Not loaded", "读取行 Rows read", "加载行 Rows loaded",
         "隔离行 Quarantined", "重复行 Duplicates", "最近加载 Last loaded"],
        [[("<b>合计 total</b>" if r["source"] == "(total)" else e(r["source"])), fmt_int(r["files"]),
          f"<span class=\"{'bad' if r['not_loaded'] else 'ok'}\">{fmt_int(r['not_loaded'])}</span>",
          fmt_int(r["rows_read"]), fmt_int(r["rows_loaded"]), fmt_int(r["rows_quarantined"]),
          fmt_int(r["rows_duplicate"]), e(r["last_loaded"])] for r in rows],
        numeric={1, 2, 3, 4, 5, 6},
    )
