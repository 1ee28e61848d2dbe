"""Periods: the one grammar every part of ygt uses for them.

A period is a year `YYYY` (annual deliveries, annual values) or a quarter `YYYYQn` (quarterly
deliveries, quarterly values). Dagster partition keys are the year (`2024`) and, for quarters,
the month the quarter starts (`2024-04` = 2024Q2): time-window keys must be strftime formats,
so the `YYYYQn` form lives only in the period.
"""

from __future__ import annotations

import re

ANNUAL, QUARTERLY = "annual", "quarterly"
_PERIOD = re.compile(r"([0-9]{4})(?:Q([1-4]))?")
_QUARTER_KEY = re.compile(r"([0-9]{4})-(01|04|07|10)")

# what the messages say a period (of a frequency) looks like
HELP = "YYYY or YYYYQn (for example 2024 or 2024Q2)"
FREQUENCY_HELP = {ANNUAL: "YYYY (e.g. 2024)", QUARTERLY: "YYYYQn (e.g. 2024Q2)"}
PARTITION_KEY_HELP = (
    "annual partitions are years (2024); quarterly partitions are the first month of a quarter: "
    "2024-01, 2024-04, 2024-07, 2024-10 = 2024Q1..2024Q4"
)


class PeriodError(ValueError):
    """Not a period (or not a partition key); the message says what one looks like."""


def parse_period(period: str) -> tuple[int, int | None]:
    """`2024` -> (2024, None); `2024Q2` -> (2024, 2)."""
    m = _PERIOD.fullmatch(period or "")
    if not m:
        raise PeriodError(f"{period!r} is not {HELP}")
    return int(m.group(1)), int(m.group(2)) if m.group(2) else None


def period_frequency(period: str) -> str | None:
    """'annual', 'quarterly', or None when `period` is not a period."""
    m = _PERIOD.fullmatch(period or "")
    if not m:
        return None
    return QUARTERLY if m.group(2) else ANNUAL


def quarters_of(year: int, up_to: int = 4) -> list[str]:
    """`2024Q1` .. `2024Q<up_to>`."""
    return [f"{year}Q{q}" for q in range(1, up_to + 1)]


def period_selection(period: str) -> set[str]:
    """The delivery folders a run for `period` reads: a year selects its annual deliveries and
    its four quarters; a quarter selects that quarter and the year's annual registers."""
    year, quarter = parse_period(period)
    return {period, str(year)} if quarter else {str(year), *quarters_of(year)}


def shift_years(period: str, years: int) -> str:
    """The same period `years` earlier: (`2024Q2`, 1) -> `2023Q2`."""
    year, quarter = parse_period(period)
    return f"{year - years}" + (f"Q{quarter}" if quarter else "")


def partition_key_of(period: str) -> str | None:
    """Period -> Dagster partition key (None if `period` is not a period)."""
    if period_frequency(period) is None:
        return None
    year, quarter = parse_period(period)
    return f"{year}-{(quarter - 1) * 3 + 1:02d}" if quarter else str(year)


def period_of_partition_key(key: str) -> str:
    """Dagster partition key -> period: `2024` -> `2024`, `2024-04` -> `2024Q2`."""
    if period_frequency(key) == ANNUAL:
        return key
    m = _QUARTER_KEY.fullmatch(key)
    if not m:
        raise PeriodError(f"partition key {key!r} is not a ygt period: {PARTITION_KEY_HELP}")
    return f"{m.group(1)}Q{(int(m.group(2)) - 1) // 3 + 1}"
