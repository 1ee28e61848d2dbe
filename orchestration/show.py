"""A short text view of a published warehouse: what an analyst sees first."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import duckdb

from orchestration import catalogue, duck

# the indicator folders' `headline` order; the seed's unit says how a value is shown
HEADLINE = catalogue.headline()
_UNITS = {code: row["unit"] for code, row in catalogue.indicators().items()}


def display_width(text: str) -> int:
    """Terminal columns: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


class ShowError(RuntimeError):
    """The warehouse or the period asked for is not there; the message says what is."""


def _open(warehouse: Path):
    if not Path(warehouse).is_file():
        raise ShowError(
            f"no warehouse file at {warehouse}; build one with `ygt run --landing "
            f"<folder> --warehouse {warehouse}` (or `ygt demo`)"
        )
    try:
        return duck.connect(warehouse, read_only=True)
    except duckdb.Error as exc:
        raise ShowError(
            f"{warehouse} cannot be opened as a DuckDB warehouse ({str(exc).splitlines()[0]})"
        ) from None


def indicator_names(con) -> dict[str, str]:
    """Indicator code -> "中文名 English name", from the warehouse's marts.indicator_catalog
    (the catalogue seeds/indicator_definitions.csv publishes); empty for a warehouse without it."""
    try:
        rows = con.execute(
            "select indicator_code, name_zh, name_en from marts.indicator_catalog"
        ).fetchall()
    except duckdb.CatalogException:
        return {}
    return {code: " ".join(x for x in (zh, en) if x) for code, zh, en in rows}


def show(warehouse: Path, period: str | None = None) -> str:
    con = _open(warehouse)
    try:
        found = [
            p
            for (p,) in con.execute(
                "select distinct period from marts.indicator_values order by period"
            ).fetchall()
        ]
        if not found:
            raise ShowError(f"{warehouse} holds no indicator values (an empty warehouse)")
        if period is None:
            period = (
                con.execute(
                    "select max(period) from marts.indicator_values where quarter is null"
                ).fetchone()[0]
                or found[-1]
            )
        elif period not in found:
            raise ShowError(
                f"no period {period} in {warehouse}; periods present: {', '.join(found)}"
            )
        rows = con.execute(
            f"""
            select area_level, area_code, area_name, indicator_code, value
            from marts.indicator_values
            where period = ? and indicator_code in ({",".join("?" * len(HEADLINE))})
            """,
            [period, *HEADLINE],
        ).fetchall()
        names = indicator_names(con)
    finally:
        con.close()
    table: dict[tuple, dict[str, float]] = {}
    for level, code, name, ind, value in rows:
        table.setdefault((level, code, name), {})[ind] = value
    order = {"national": 0, "province": 1, "city": 2, "county": 3}
    header = f"{'area':<28}" + "".join(f"{c:>9}" for c in HEADLINE)
    in_yuan = [c for c in HEADLINE if _UNITS.get(c) == "yuan"]
    out = [
        f"Headline indicators, {period} (ratios as %"
        + (f", {', '.join(in_yuan)} in yuan)" if in_yuan else ")")
    ]
    out += [f"  {c:<6}{names[c]}" for c in HEADLINE if c in names]
    out += [header, "-" * len(header)]
    for (level, code, name), vals in sorted(
        table.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1])
    ):
        cells = []
        for c in HEADLINE:
            v = vals.get(c)
            cells.append(
                f"{'—':>9}"
                if v is None
                else (f"{v:>9.0f}" if c in in_yuan else f"{100 * v:>8.1f}%")
            )
        label = f"{name or code} [{level}]"
        out.append(pad(label, 28) + "".join(cells))
    return "\n".join(out)


def league_table(warehouse: Path, year: int | None = None, limit: int = 20) -> str:
    """The county league table of marts.county_scorecard (latest year by default)."""
    con = _open(warehouse)
    try:
        if year is None:
            year = con.execute("select max(year) from marts.county_scorecard").fetchone()[0]
        rows = con.execute(
            """
            select rank, county_name, county_code, score, grade, rank_in_city, indicators_scored
            from marts.county_scorecard
            where year = ?
            order by rank, county_code
            limit ?
            """,
            [year, limit],
        ).fetchall()
    finally:
        con.close()
    header = (
        pad("rank 排名", 10)
        + pad("county 县", 22)
        + pad("score 得分", 12)
        + pad("grade 等级", 12)
        + pad("in city 市内", 14)
        + "scored"
    )
    out = [
        f"County league table {year} (marts.county_scorecard; EXAMPLE scoring configuration)",
        header,
        "-" * display_width(header),
    ]
    for rank, name, code, score, grade, rank_in_city, scored in rows:
        out.append(
            pad(str(rank), 10)
            + pad(f"{name or code} {code}", 22)
            + pad(f"{score:.1f}", 12)
            + pad(grade or "—", 12)
            + pad(str(rank_in_city), 14)
            + str(scored)
        )
    return "\n".join(out)
