"""Periods as Dagster partitions.

Annual sources deliver per year (period `2024`, partition key `2024`); quarterly sources per
quarter (period `2024Q2`, partition key `2024-04`, the month the quarter starts — Dagster's
time-window keys must be strftime formats, so the `YYYYQn` form lives only in the period).
"""

from __future__ import annotations

import os
import re
from datetime import datetime

import dagster as dg

from orchestration import contract

TIMEZONE = "Asia/Shanghai"
FIRST_YEAR = int(os.environ.get("YGT_FIRST_YEAR", "2020"))

annual_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *", fmt="%Y", start=str(FIRST_YEAR), timezone=TIMEZONE
)
quarterly_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1,4,7,10 *", fmt="%Y-%m", start=f"{FIRST_YEAR}-01", timezone=TIMEZONE
)

PARTITIONS = {"annual": annual_partitions, "quarterly": quarterly_partitions}
_QUARTER_KEY = re.compile(r"^(\d{4})-(01|04|07|10)$")
_QUARTER_PERIOD = re.compile(r"^(\d{4})Q([1-4])$")
_YEAR = re.compile(r"^\d{4}$")


def partitions_for(source: contract.Source) -> dg.TimeWindowPartitionsDefinition:
    return PARTITIONS[source.frequency]


def period_of(partition_key: str) -> str:
    """Partition key -> landing period: `2024` -> `2024`, `2024-04` -> `2024Q2`."""
    if _YEAR.match(partition_key):
        return partition_key
    m = _QUARTER_KEY.match(partition_key)
    if not m:
        raise ValueError(
            f"partition key {partition_key!r} is not a ygt period: annual partitions are years "
            "(2024), quarterly ones the first month of a quarter (2024-01, 2024-04, 2024-07, "
            "2024-10 = 2024Q1..Q4)"
        )
    return f"{m.group(1)}Q{(int(m.group(2)) - 1) // 3 + 1}"


def partition_key_of(period: str) -> str | None:
    """Landing period -> partition key (None if the folder name is not a period)."""
    if _YEAR.match(period):
        return period
    m = _QUARTER_PERIOD.match(period)
    if not m:
        return None
    return f"{m.group(1)}-{(int(m.group(2)) - 1) * 3 + 1:02d}"


def frequency_of(period: str) -> str | None:
    if _YEAR.match(period):
        return "annual"
    if _QUARTER_PERIOD.match(period):
        return "quarterly"
    return None


def previous_quarter_key(t: datetime) -> str:
    """Partition key of the last quarter that ended before `t` (2024-07-20 -> `2024-04`)."""
    q_start_month = (t.month - 1) // 3 * 3 + 1  # first month of t's quarter
    year, month = t.year, q_start_month - 3
    if month < 1:
        year, month = year - 1, month + 12
    return f"{year}-{month:02d}"


def previous_year_key(t: datetime) -> str:
    return str(t.year - 1)
