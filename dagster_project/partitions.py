"""Periods as Dagster partitions.

Annual sources deliver per year (period `2024`, partition key `2024`); quarterly sources per
quarter (period `2024Q2`, partition key `2024-04`, the month the quarter starts). The mapping
between periods and keys is `orchestration.periods`.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from orchestration import contract, settings

TIMEZONE = "Asia/Shanghai"
FIRST_YEAR = settings.first_year()

annual_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *", fmt="%Y", start=str(FIRST_YEAR), timezone=TIMEZONE
)
quarterly_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1,4,7,10 *", fmt="%Y-%m", start=f"{FIRST_YEAR}-01", timezone=TIMEZONE
)

PARTITIONS = {"annual": annual_partitions, "quarterly": quarterly_partitions}


def partitions_for(source: contract.Source) -> dg.TimeWindowPartitionsDefinition:
    return PARTITIONS[source.frequency]


def previous_quarter_key(t: datetime) -> str:
    """Partition key of the last quarter that ended before `t` (2024-07-20 -> `2024-04`)."""
    q_start_month = (t.month - 1) // 3 * 3 + 1  # first month of t's quarter
    year, month = t.year, q_start_month - 3
    if month < 1:
        year, month = year - 1, month + 12
    return f"{year}-{month:02d}"


def previous_year_key(t: datetime) -> str:
    return str(t.year - 1)
