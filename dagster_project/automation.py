"""Jobs, schedules and the landing-folder sensor.

Jobs (each = landing assets of one frequency, their raw gates, *all* dbt models and tests, mart
gates, published warehouse):
- `annual_refresh`   partitioned by year (`2024`): the seven annual registers/rosters.
- `quarterly_refresh` partitioned by quarter (`2024-04` = 2024Q2): the four quarterly extracts.
- `rebuild_warehouse` (unpartitioned): dbt build + mart gates + publish, no landing — after a
  model or seed change.
A backfill over several years/quarters is one run (single-run backfill policy): every period is
landed, then dbt builds once.
"""

import hashlib
import json
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg

from orchestration import contract, settings
from orchestration.periods import partition_key_of, period_frequency

from .assets import DBT_KEYS, PUBLISHED_KEY, landing_key
from .partitions import (
    PARTITIONS,
    TIMEZONE,
    previous_quarter_key,
    previous_year_key,
)
from .resources import YgtPaths

SOURCES_BY_FREQUENCY = {
    f: [s for s in contract.SOURCES if s.frequency == f] for f in ("annual", "quarterly")
}


def _job(frequency: str):
    keys = [landing_key(s.name) for s in SOURCES_BY_FREQUENCY[frequency]]
    return dg.define_asset_job(
        f"{frequency}_refresh",
        # all dbt models, not only those downstream of these sources: marts read every source
        selection=dg.AssetSelection.assets(*keys, *DBT_KEYS, PUBLISHED_KEY),
        description=f"Land the {frequency} sources for one period (or a backfill range), gate "
        "them, rebuild the dbt models, gate the marts and publish.",
        tags={"ygt/frequency": frequency},
    )


annual_refresh = _job("annual")
quarterly_refresh = _job("quarterly")
JOBS = {"annual": annual_refresh, "quarterly": quarterly_refresh}

rebuild_warehouse = dg.define_asset_job(
    "rebuild_warehouse",
    selection=dg.AssetSelection.assets(*DBT_KEYS, PUBLISHED_KEY),
    description="dbt build + mart gates + publish over what is already landed (no landing).",
)


# ── schedules ──────────────────────────────────────────────────────────────────────────────


@dg.schedule(
    cron_schedule="0 6 20 1,4,7,10 *",
    job=quarterly_refresh,
    execution_timezone=TIMEZONE,
    name="quarterly_refresh_schedule",
)
def quarterly_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """06:00 (Asia/Shanghai) on 20 January, April, July and October: refresh the quarter that
    ended three weeks earlier (20 July 2024 -> partition `2024-04` = 2024Q2). HIS and insurance
    extracts for a quarter are due by mid-month after it closes; the 20th leaves a margin for
    late files and re-deliveries (the landing sensor picks up anything later)."""
    key = previous_quarter_key(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"quarterly-{key}", partition_key=key)


@dg.schedule(
    cron_schedule="0 6 15 3 *",
    job=annual_refresh,
    execution_timezone=TIMEZONE,
    name="annual_refresh_schedule",
)
def annual_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """06:00 (Asia/Shanghai) on 15 March: refresh the previous year (15 March 2025 -> `2024`).
    The year-end registers arrive in Q1 — facility register, population, personnel roster
    (卫统 annual report), chronic-disease roster, death-cause surveillance and the qualitative
    assessments — so mid-March is the first date all of them are normally in."""
    key = previous_year_key(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"annual-{key}", partition_key=key)


# ── landing sensor ─────────────────────────────────────────────────────────────────────────


def scan_landing(landing: Path) -> dict[str, tuple[str, float]]:
    """`{"<source>/<period>": (signature, newest mtime)}` for every delivery the loader would
    see (`orchestration.land.discovery`: same folders, same ignored and unsupported files).

    The signature is `land.file_signature`: names, sizes, modification and change times and
    inodes, so a new, added, removed, replaced or touched file changes it; an unchanged folder
    keeps it.
    """
    from orchestration.land import discover, file_signature

    deliveries, _problems = discover(landing)
    return {f"{d.source.name}/{d.period}": file_signature(d) for d in deliveries}


def settle_seconds() -> float:
    """Files younger than this are still being copied; the sensor waits for the next tick."""
    return settings.sensor_settle_seconds()


@dg.sensor(
    jobs=[annual_refresh, quarterly_refresh],
    minimum_interval_seconds=60,
    name="landing_sensor",
    description="Watches the landing folder; starts a refresh for each period with new or "
    "changed delivery folders (cursor = folder signatures).",
)
def landing_sensor(context: dg.SensorEvaluationContext, ygt: YgtPaths) -> dg.SensorResult:
    """Fires once per new delivery: for each `<source>/<period>` folder whose signature differs
    from the cursor (and whose files have been still for YGT_SENSOR_SETTLE_SECONDS), one run of
    the annual or quarterly job for that partition, selecting the changed sources' landing
    assets and everything downstream. Folders delivered together for the same period share one
    run (one dbt build). Periods outside the partition range (before YGT_FIRST_YEAR, or a
    quarter/year not yet over) are skipped and reported, and looked at again next tick."""
    landing = ygt.landing_path()
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    if not landing.is_dir():
        return dg.SensorResult(skip_reason=f"landing folder {landing} does not exist")
    now = time.time()
    current = scan_landing(landing)
    cursor = {k: v for k, v in seen.items() if k in current}  # forget deleted folders
    pending: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    waiting, out_of_range = [], []
    for delivery, (signature, newest) in current.items():
        if seen.get(delivery) == signature:
            continue
        if now - newest < settle_seconds():
            waiting.append(delivery)
            continue
        source, period = delivery.split("/")
        frequency = period_frequency(period)
        key = partition_key_of(period)
        if not PARTITIONS[frequency].has_partition_key(key):
            out_of_range.append(delivery)
            continue
        pending[(frequency, key)].append((source, signature))
        cursor[delivery] = signature
    requests = []
    for (frequency, key), changed in sorted(pending.items()):
        changed.sort()
        run_key = f"{frequency}-{key}-" + hashlib.sha256(repr(changed).encode()).hexdigest()[:12]
        requests.append(
            dg.RunRequest(
                run_key=run_key,
                job_name=JOBS[frequency].name,
                partition_key=key,
                asset_selection=[landing_key(s) for s, _ in changed] + DBT_KEYS + [PUBLISHED_KEY],
                tags={
                    "ygt/trigger": "landing_sensor",
                    "ygt/sources": ",".join(s for s, _ in changed),
                },
            )
        )
    if waiting:
        context.log.info(f"still settling, next tick: {', '.join(sorted(waiting))}")
    if out_of_range:
        context.log.warning(f"not a partition (yet): {', '.join(sorted(out_of_range))}")
    if not requests:
        return dg.SensorResult(
            skip_reason="no new or changed deliveries"
            + (f"; {len(waiting)} still settling" if waiting else "")
            + (f"; {len(out_of_range)} outside the partition range" if out_of_range else ""),
            cursor=json.dumps(cursor, sort_keys=True),
        )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))
