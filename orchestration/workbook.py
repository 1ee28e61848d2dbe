"""`ygt export-xlsx`: the provincial workbook in the layout of a county self-assessment return.

One sheet per county, a summary sheet per city and one for the province, each a table of the
year's indicators: 序号, 维度, 指标, 口径, 分子, 分母, 当期值, 单位, 数据来源, 上年值, 变化.
Numbers are written as numbers (formatted by unit), the header row is frozen. Read from the
published warehouse, opened read-only.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from orchestration import contract
from orchestration.explain import INDICATOR_SOURCES, ExplainError, open_warehouse

HEADERS = (
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
)
WIDTHS = (6, 8, 42, 70, 16, 16, 14, 10, 30, 14, 14)
DIMENSIONS = ("紧密型", "同质化", "促分工", "提效能", "保健康", "补充")
UNITS_ZH = {"ratio": "比例", "yuan": "元", "per_10k": "每万人", "flag": "是/否"}
VALUE_FORMATS = {"ratio": "0.00%", "yuan": "#,##0.00", "per_10k": "0.00", "flag": "0"}
LEVELS = ("province", "city", "county")
LEVEL_ZH = {"province": "省", "city": "市", "county": "县"}
# Chinese names for sources whose contract description has none.
SOURCE_ZH = {"remote_diagnoses": "远程诊断记录", "qualitative_assessments": "定性指标佐证"}


class WorkbookError(RuntimeError):
    """A missing warehouse or year; the message says what exists."""


def sources_zh(code: str) -> str:
    """数据来源 cell: the Chinese names of the raw sources an indicator is computed from."""
    names = []
    for name in INDICATOR_SOURCES.get(code, ()):
        doc = contract.SOURCE_BY_NAME[name].doc
        zh = "".join(ch for ch in doc if "\u4e00" <= ch <= "\u9fff")
        names.append(zh or SOURCE_ZH.get(name, name))
    return "、".join(names)


def workbook_rows(con, year: int) -> dict[tuple[str, str, str], list[dict]]:
    """(area_level, area_code, area_name) -> the rows of its sheet, in return order."""
    rows = con.execute(
        """
        select cur.area_level, cur.area_code, cur.area_name, cur.indicator_code, cat.dimension,
            cat.name_zh, cat.definition, cur.numerator, cur.denominator, cur.value, cur.unit,
            prev.value as previous_value
        from marts.indicator_values as cur
        inner join marts.indicator_catalog as cat on cat.indicator_code = cur.indicator_code
        left join marts.indicator_values as prev
            on prev.area_level = cur.area_level and prev.area_code = cur.area_code
            and prev.indicator_code = cur.indicator_code and prev.period = ?
        where cur.period = ? and cur.area_level in ('province', 'city', 'county')
        """,
        [str(year - 1), str(year)],
    ).fetchall()
    names = (
        "area_level",
        "area_code",
        "area_name",
        "indicator_code",
        "dimension",
        "name_zh",
        "definition",
        "numerator",
        "denominator",
        "value",
        "unit",
        "previous_value",
    )
    sheets: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        d = dict(zip(names, r))
        sheets.setdefault((d["area_level"], d["area_code"], d["area_name"]), []).append(d)
    dim_rank = {d: i for i, d in enumerate(DIMENSIONS)}
    for lst in sheets.values():
        lst.sort(key=lambda d: (dim_rank.get(d["dimension"], 99), d["indicator_code"]))
    return dict(sorted(sheets.items(), key=lambda kv: (LEVELS.index(kv[0][0]), kv[0][1])))


def _sheet_title(level: str, code: str, name: str, used: set[str]) -> str:
    title = f"{LEVEL_ZH[level]}-{name}"[:24] + f" {code}"
    for ch in "[]:*?/\\":
        title = title.replace(ch, " ")
    title = title[:31]
    while title in used:
        title = title[:28] + f"~{len(used) % 100:02d}"
    used.add(title)
    return title


def write_workbook(warehouse: Path, year: int, out: Path) -> Path:
    try:
        con = open_warehouse(warehouse)
    except ExplainError as exc:
        raise WorkbookError(str(exc)) from exc
    try:
        sheets = workbook_rows(con, year)
        if not sheets:
            years = [
                r[0]
                for r in con.execute(
                    "select distinct period from marts.indicator_values where quarter is null order by 1"
                ).fetchall()
            ]
            raise WorkbookError(
                f"no annual values for {year}; the warehouse has years: {', '.join(years)}"
            )
    finally:
        con.close()
    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    header_font, header_fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for (level, code, name), rows in sheets.items():
        ws = wb.create_sheet(_sheet_title(level, code, name, used))
        ws.append(HEADERS)
        for cell in ws[1]:
            cell.font, cell.fill = header_font, header_fill
            cell.alignment = Alignment(horizontal="center", vertical="center")
        for i, d in enumerate(rows, start=1):
            change = (
                d["value"] - d["previous_value"]
                if d["value"] is not None and d["previous_value"] is not None
                else None
            )
            ws.append(
                (
                    i,
                    d["dimension"],
                    f"{d['indicator_code']} {d['name_zh']}",
                    d["definition"],
                    d["numerator"],
                    d["denominator"],
                    d["value"],
                    UNITS_ZH.get(d["unit"], d["unit"]),
                    sources_zh(d["indicator_code"]),
                    d["previous_value"],
                    change,
                )
            )
            r = ws.max_row
            value_format = VALUE_FORMATS.get(d["unit"], "General")
            for col in (7, 10, 11):
                ws.cell(r, col).number_format = value_format
            for col in (5, 6):
                v = ws.cell(r, col).value
                ws.cell(r, col).number_format = (
                    "#,##0" if v is None or float(v).is_integer() else "#,##0.00"
                )
            for col in (3, 4, 9):
                ws.cell(r, col).alignment = Alignment(wrap_text=True, vertical="top")
        for col, width in enumerate(WIDTHS, start=1):
            ws.column_dimensions[ws.cell(1, col).column_letter].width = width
        ws.freeze_panes = "A2"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out
