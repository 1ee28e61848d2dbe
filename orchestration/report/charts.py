"""The report's charts: inline SVG drawn here, so pages need no script, font or network.

The only module that escapes by hand: every function returns `Markup` that templates insert as
is. Bars start at zero for non-negative values, so a small gap is not drawn as a large one.
Where the differences are the point (scores of 73 to 75.5, year-to-date trends) the axis is
focused on the data's range instead, drawn as dots and lines (no bar whose length would lie)
and labelled so. The target is a purple dashed mark, a colour no series uses; value labels
stand in a column of their own, where no line crosses them.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

TARGET_COLOUR = "#7b1fa2"  # purple: no series, grade or status colour is purple
TARGET_DASH = "6,3"
LATEST_COLOUR = "#1f5fa8"  # small multiples: the area's latest year
EARLIER_COLOUR = "#8fb3da"  # … and its earlier years (dashed)
REFERENCE_COLOUR = "#9e9e9e"  # … and the province's latest year, behind it
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


def focused_range(values: list[float]) -> tuple[float, float]:
    """Axis range around the data (not from zero), padded by a tenth of the span on each side,
    so differences of a few points are visible; never below zero for values that are not."""
    lo, hi = min(values), max(values)
    span = hi - lo
    if span <= abs(hi) * 1e-9:
        span = abs(hi) * 0.02 or 1.0
    low = lo - span * 0.1
    return (max(low, 0.0) if lo >= 0 else low), hi + span * 0.1


def bar_chart(
    items: list[tuple[str, float | None, str]],
    fmt,
    title: str,
    target: float | None = None,
    target_label: str = "",
    bands: tuple[float, ...] = (),
    focus: bool = False,
) -> Markup:
    """Horizontal bars: items = (label, value, colour); `fmt` formats a value; a purple dashed
    line marks the target, grey dotted lines the `bands`. With `focus` the axis spans the
    values only (bands outside it are left out) and each value is a dot, not a bar: a bar
    from an axis that does not start at zero would exaggerate the differences."""
    shown = [float(v) for _, v, _ in items if v is not None]
    if not shown:
        return no_data()
    if focus:
        lo, hi = focused_range(shown + ([target] if target is not None else []))
        bands = tuple(b for b in bands if lo <= b <= hi)
    else:
        lo, hi = value_range(shown + ([target] if target is not None else []) + list(bands))
    left, right, row, top, width = 170, 110, 24, 26, 820
    plot = width - left - right
    height = top + row * len(items) + 26 + (14 if focus else 0)

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
    zero = x(0.0) if not focus else left
    labels = left + plot + 10  # the value labels' column, right of every line and bar
    bottom = top + row * len(items) + 2
    if target is not None:  # drawn first: dots and bars lie on it, nothing is written on it
        tx = x(target)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{bottom}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="2" stroke-dasharray="{TARGET_DASH}"/>'
            f'<text x="{tx:.1f}" y="{top - 10}" font-size="12" text-anchor="middle" '
            f'fill="{TARGET_COLOUR}">{e(target_label)}</text>'
        )
    for i, (label, value, colour) in enumerate(items):
        y = top + i * row
        parts.append(
            f'<text x="{left - 8}" y="{y + 16}" font-size="13" text-anchor="end">{e(label)}</text>'
        )
        if value is None:
            parts.append(
                f'<text x="{labels}" y="{y + 16}" font-size="12" fill="#888">— 无值 no value</text>'
            )
            continue
        tip = f"<title>{e(label)}: {e(fmt(value))}</title>"
        if focus:
            parts.append(
                f'<line x1="{left}" y1="{y + 12}" x2="{left + plot}" y2="{y + 12}" '
                'stroke="#eeeeee"/>'
                f'<circle cx="{x(value):.1f}" cy="{y + 12}" r="6" fill="{e(colour)}">{tip}</circle>'
            )
        else:
            x0, x1 = sorted((zero, x(value)))
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" '
                f'height="{row - 6}" fill="{e(colour)}">{tip}</rect>'
            )
        parts.append(f'<text x="{labels}" y="{y + 16}" font-size="12">{e(fmt(value))}</text>')
    parts.append(
        f'<line x1="{zero:.1f}" y1="{top - 2}" x2="{zero:.1f}" y2="{bottom}" stroke="#444"/>'
        f'<line x1="{left}" y1="{bottom}" x2="{left + plot}" y2="{bottom}" stroke="#999"/>'
    )
    ticks = [lo + (hi - lo) * k / 4 for k in range(5)] if focus else [lo, hi]
    for v in ticks:
        parts.append(
            f'<text x="{x(v):.1f}" y="{bottom + 14}" font-size="11" text-anchor="middle" '
            f'fill="#555">{e(fmt(v))}</text>'
        )
    if focus:
        parts.append(
            f'<text x="{left}" y="{bottom + 30}" font-size="11" fill="#555">'
            "轴不从 0 开始 the axis does not start at 0</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def quarter_panels(
    panels: list[tuple[str, list[tuple[int, list[float | None]]]]],
    fmt,
    title: str,
    reference: tuple[str, list[tuple[int, list[float | None]]]] | None = None,
    target: float | None = None,
) -> Markup:
    """Small multiples of year-to-date values by quarter: one panel per area, panels =
    (area name, [(year, values for Q1..Q4)]). In each panel the latest year is a solid line, earlier
    years dashed and lighter (Q4 never joins the next Q1: a new year-to-date is not a fall),
    the `reference` area's latest year (the province) a grey line behind, the target a purple
    dashed line. Every panel shares one axis focused on the values (not from zero), so panels
    compare at a glance and differences of a point are visible."""
    values = [float(v) for _, years in panels for _, vs in years for v in vs if v is not None]
    if not values:
        return no_data()
    ref_years = sorted(reference[1], reverse=True)[:1] if reference else []
    ref_values = [float(v) for _, vs in ref_years for v in vs if v is not None]
    lo, hi = focused_range(values + ref_values + ([target] if target is not None else []))
    cols = min(4, len(panels))
    pw, ph = 205, 150
    left, right, top, bottom = 48, 10, 22, 22
    width, height = pw * cols, ph * ((len(panels) + cols - 1) // cols)
    latest = max(y for _, years in panels for y, _ in years)
    parts = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{e(title)}"><title>{e(title)}</title>'
    ]
    for n, (name, years) in enumerate(panels):
        ox, oy = (n % cols) * pw, (n // cols) * ph
        inner_w, inner_h = pw - left - right, ph - top - bottom
        step = inner_w / (len(QUARTERS) - 1)

        def xy(i: int, v: float, ox=ox, oy=oy, inner_h=inner_h, step=step):
            return ox + left + i * step, oy + top + inner_h - (float(v) - lo) / (hi - lo) * inner_h

        parts.append(
            f'<text x="{ox + left}" y="{oy + 14}" font-size="12" font-weight="bold">{e(name)}</text>'
            f'<rect x="{ox + left}" y="{oy + top}" width="{inner_w}" height="{inner_h}" '
            'fill="none" stroke="#dddddd"/>'
        )
        for v in (lo, (lo + hi) / 2, hi):
            _, y = xy(0, v)
            parts.append(
                f'<text x="{ox + left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
                f'fill="#555">{e(fmt(v))}</text>'
            )
        for i, label in enumerate(QUARTERS):
            x, _ = xy(i, lo)
            parts.append(
                f'<text x="{x:.1f}" y="{oy + ph - 6}" font-size="10" text-anchor="middle" '
                f'fill="#555">{e(label)}</text>'
            )
        if target is not None:
            _, ty = xy(0, target)
            parts.append(
                f'<line x1="{ox + left}" y1="{ty:.1f}" x2="{ox + left + inner_w}" y2="{ty:.1f}" '
                f'stroke="{TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="{TARGET_DASH}"/>'
            )
        lines = [(f"{reference[0]} {y}", vs, REFERENCE_COLOUR, "", 1.2) for y, vs in ref_years]
        for year, vs in sorted(years):
            is_latest = year == latest
            lines.append(
                (
                    f"{name} {year}",
                    vs,
                    LATEST_COLOUR if is_latest else EARLIER_COLOUR,
                    "" if is_latest else "5,3",
                    2.0,
                )
            )
        for label, vs, colour, dash, stroke in lines:
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            segment: list[str] = []
            for i, v in enumerate(list(vs) + [None]):
                if v is None:
                    if len(segment) > 1:
                        parts.append(
                            f'<polyline points="{" ".join(segment)}" fill="none" '
                            f'stroke="{colour}" stroke-width="{stroke}"{dash_attr}/>'
                        )
                    segment = []
                    continue
                x, y = xy(i, v)
                segment.append(f"{x:.1f},{y:.1f}")
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                    f"<title>{e(label)}{QUARTERS[i]}: {e(fmt(v))}</title></circle>"
                )
    parts.append("</svg>")
    earlier = sorted({y for _, years in panels for y, _ in years if y != latest})
    legend = (
        f'<span><i style="background:{LATEST_COLOUR}"></i>{e(latest)} 年 year</span>'
        + "".join(
            f'<span><i style="background:{EARLIER_COLOUR}"></i>{e(y)} 年 (虚线 dashed)</span>'
            for y in earlier
        )
        + (
            f'<span><i style="background:{REFERENCE_COLOUR}"></i>{e(reference[0])} '
            f"{e(ref_years[0][0])}</span>"
            if ref_years
            else ""
        )
        + (
            f'<span><svg width="26" height="6" style="display:inline;margin:0 4px 0 0">'
            f'<line x1="0" y1="3" x2="26" y2="3" stroke="{TARGET_COLOUR}" stroke-width="2" '
            f'stroke-dasharray="{TARGET_DASH}"/></svg>目标 target {e(fmt(target))}</span>'
            if target is not None
            else ""
        )
    )
    return Markup("".join(parts) + f'<div class="legend">{legend}</div>')


def sparkline(values: list[float | None], title: str, width: int = 90, height: int = 22) -> Markup:
    """A small line of Q1..Q4 for a table cell, on an axis from zero (its size, not its
    differences, is what a cell shows; the trend panels focus on the differences)."""
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
