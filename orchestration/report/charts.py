"""The report's charts: inline SVG drawn here, so pages need no script, font or network.

The only module that escapes by hand: every function returns `Markup` that templates insert as
is. Value axes start at zero for non-negative values, so a small gap is not drawn as a large
one; the axis range is labelled.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
HIGHER_LEVEL_COLOUR = "#333333"
TARGET_COLOUR = "#c62828"
YEAR_DASHES = ("", "7,4", "2,3", "10,3,2,3")  # latest year solid, then dashed, dotted, …
QUARTERS = ("Q1", "Q2", "Q3", "Q4")


def e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def no_data(reason: str = "") -> Markup:
    text = "无数据 no data" + (f": {reason}" if reason else "")
    return Markup(f'<p class="muted">{e(text)}</p>')


def value_range(values: list[float]) -> tuple[float, float]:
    """Axis range: from 0 when every value is non-negative (else from the minimum), padded."""
    lo, hi = min(min(values), 0.0), max(max(values), 0.0)
    if hi == lo:
        hi = lo + 1.0
    pad = (hi - lo) * 0.08
    return (lo if lo == 0 else lo - pad), hi + pad


def bar_chart(
    items: list[tuple[str, float | None, str]],
    fmt,
    title: str,
    target: float | None = None,
    target_label: str = "",
    bands: tuple[float, ...] = (),
) -> Markup:
    """Horizontal bars: items = (label, value, colour); `fmt` formats a value; a dashed red
    line marks the target, grey dotted lines the `bands`."""
    shown = [float(v) for _, v, _ in items if v is not None]
    if not shown:
        return no_data()
    lo, hi = value_range(shown + ([target] if target is not None else []) + list(bands))
    left, right, row, top, width = 170, 110, 24, 26, 820
    plot = width - left - right
    height = top + row * len(items) + 26

    def x(v: float) -> float:
        return left + (float(v) - lo) / (hi - lo) * plot

    parts = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{e(title)}"><title>{e(title)}</title>'
    ]
    for b in bands:
        parts.append(
            f'<line x1="{x(b):.1f}" y1="{top - 6}" x2="{x(b):.1f}" y2="{height - 24}" '
            'stroke="#bbb" stroke-dasharray="2,3"/>'
            f'<text x="{x(b):.1f}" y="{top - 10}" font-size="11" text-anchor="middle" '
            f'fill="#888">{e(fmt(b))}</text>'
        )
    zero = x(0.0)
    for i, (label, value, colour) in enumerate(items):
        y = top + i * row
        parts.append(
            f'<text x="{left - 8}" y="{y + 16}" font-size="13" text-anchor="end">{e(label)}</text>'
        )
        if value is None:
            parts.append(
                f'<text x="{zero + 4:.1f}" y="{y + 16}" font-size="12" fill="#888">'
                "— 无值 no value</text>"
            )
            continue
        x0, x1 = sorted((zero, x(value)))
        parts.append(
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" height="{row - 6}" '
            f'fill="{e(colour)}"><title>{e(label)}: {e(fmt(value))}</title></rect>'
        )
        parts.append(f'<text x="{x1 + 4:.1f}" y="{y + 16}" font-size="12">{e(fmt(value))}</text>')
    bottom = height - 24
    parts.append(
        f'<line x1="{zero:.1f}" y1="{top - 2}" x2="{zero:.1f}" y2="{bottom}" stroke="#444"/>'
        f'<line x1="{left}" y1="{bottom}" x2="{left + plot}" y2="{bottom}" stroke="#999"/>'
    )
    for v in (lo, hi):
        parts.append(
            f'<text x="{x(v):.1f}" y="{bottom + 14}" font-size="11" text-anchor="middle" '
            f'fill="#555">{e(fmt(v))}</text>'
        )
    if target is not None:
        tx = x(target)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{bottom}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="2" stroke-dasharray="6,4"/>'
            f'<text x="{tx:.1f}" y="{top - 10}" font-size="12" text-anchor="middle" '
            f'fill="{TARGET_COLOUR}">{e(target_label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def quarter_lines(
    series: list[tuple[str, int, list[float | None], str]],
    fmt,
    title: str,
    target: float | None = None,
) -> Markup:
    """Year-to-date values by quarter, one line per area and year: series = (area name, year,
    values for Q1..Q4, colour). Years never join into one line (Q4 to the next Q1 is a new
    year-to-date, not a fall); the latest year is solid, earlier years dashed."""
    values = [float(v) for _, _, vs, _ in series for v in vs if v is not None]
    if not values:
        return no_data()
    lo, hi = value_range(values + ([target] if target is not None else []))
    width, height, left, right, top, bottom = 820, 280, 80, 20, 16, 34
    pw, ph = width - left - right, height - top - bottom
    step = pw / (len(QUARTERS) - 1)
    years = sorted({y for _, y, _, _ in series}, reverse=True)
    dash_of = {y: YEAR_DASHES[min(i, len(YEAR_DASHES) - 1)] for i, y in enumerate(years)}

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + i * step, top + ph - (float(v) - lo) / (hi - lo) * ph

    parts = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{e(title)}"><title>{e(title)}</title>'
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        _, y = xy(0, v)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#555">{e(fmt(v))}</text>'
        )
    for i, label in enumerate(QUARTERS):
        x, _ = xy(i, lo)
        parts.append(
            f'<text x="{x:.1f}" y="{height - 12}" font-size="11" text-anchor="middle" '
            f'fill="#555">{e(label)}</text>'
        )
    if target is not None:
        _, ty = xy(0, target)
        parts.append(
            f'<line x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="6,4"/>'
        )
    for name, year, vals, colour in series:
        dash = f' stroke-dasharray="{dash_of[year]}"' if dash_of[year] else ""
        segment: list[str] = []
        for i, v in enumerate(list(vals) + [None]):
            if v is None:
                if len(segment) > 1:
                    parts.append(
                        f'<polyline points="{" ".join(segment)}" fill="none" '
                        f'stroke="{e(colour)}" stroke-width="2"{dash}/>'
                    )
                segment = []
                continue
            x, y = xy(i, v)
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{e(colour)}">'
                f"<title>{e(name)} {e(year)}{QUARTERS[i]}: {e(fmt(v))}</title></circle>"
            )
    parts.append("</svg>")
    areas = {name: colour for name, _, _, colour in series}
    legend = "".join(
        f'<span><i style="background:{e(c)}"></i>{e(n)}</span>' for n, c in areas.items()
    )
    legend += "".join(
        '<span><svg width="26" height="6" style="display:inline;margin:0 4px 0 0">'
        '<line x1="0" y1="3" x2="26" y2="3" stroke="#333" stroke-width="2"'
        + (f' stroke-dasharray="{dash_of[y]}"' if dash_of[y] else "")
        + f"/></svg>{e(y)}</span>"
        for y in years
    )
    if target is not None:
        legend += f'<span><i style="background:{TARGET_COLOUR}"></i>目标 target</span>'
    return Markup("".join(parts) + f'<div class="legend">{legend}</div>')


def sparkline(values: list[float | None], title: str, width: int = 90, height: int = 22) -> Markup:
    """A small line of Q1..Q4 for a table cell, on an axis from zero like the larger charts."""
    shown = [float(v) for v in values if v is not None]
    if not shown:
        return Markup("")
    lo, hi = value_range(shown)
    step = (width - 6) / max(len(values) - 1, 1)
    pts = [
        (3 + i * step, height - 3 - (float(v) - lo) / (hi - lo) * (height - 6))
        for i, v in enumerate(values)
        if v is not None
    ]
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="#4e79a7"/>' for x, y in pts)
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    return Markup(
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{e(title)}" style="display:inline;margin:0"><title>{e(title)}</title>'
        f'<line x1="0" y1="{height - 3}" x2="{width}" y2="{height - 3}" stroke="#ddd"/>'
        f'<polyline points="{line}" fill="none" stroke="#4e79a7" stroke-width="1.5"/>{dots}</svg>'
    )
