"""Dagster wiring: the whole asset graph for real (DuckDB, dbt, Great Expectations), blocking
gates, schedules, the landing sensor, and `dagster definitions validate`.

One small landing folder is generated once per module; the runs share one ephemeral Dagster
instance and one working database, in file order (the blocking test runs last: it corrupts
the data on purpose).
"""

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from orchestration import contract, duck, periods, settings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from dagster_project import automation, partitions
from dagster_project.assets import LANDING_KEYS, MART_GATE, PUBLISHED_KEY, RAW_GATE
from dagster_project.definitions import build_defs
from dagster_project.resources import YgtPaths

SHANGHAI = ZoneInfo("Asia/Shanghai")
RAW_TABLES = {dg.AssetKey(["raw", "load_audit"]), dg.AssetKey(["raw", "dq_results"])}
YEAR = 2024


# ── fixtures ───────────────────────────────────────────────────────────────────────────────


def _make_landing(landing: Path) -> None:
    from orchestration.generate import generate

    generate(landing, counties=1, years=(YEAR,), scale=0.02, seed=5, progress=lambda m: None)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("dagster")
    landing = root / "landing"
    _make_landing(landing)
    paths = YgtPaths(landing=str(landing), warehouse=str(root / "warehouse.duckdb"))
    return {
        "root": root,
        "landing": landing,
        "paths": paths,
        "defs": build_defs(paths),
        "instance": dg.DagsterInstance.ephemeral(),
    }


def _run(world, job: str, partition_key=None, key_range=None, defs=None, **kw):
    defs = defs or world["defs"]
    tags = {}
    if key_range:
        tags = {
            "dagster/asset_partition_range_start": key_range[0],
            "dagster/asset_partition_range_end": key_range[1],
        }
    return defs.resolve_job_def(job).execute_in_process(
        partition_key=partition_key,
        tags=tags,
        instance=world["instance"],
        raise_on_error=False,
        **kw,
    )


def _checks(result) -> dict[tuple[str, str], bool]:
    return {
        (
            e.event_specific_data.asset_key.to_user_string(),
            e.event_specific_data.check_name,
        ): e.event_specific_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def _materialised(result) -> set[str]:
    return {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }


def _failure_messages(result) -> str:
    out = []
    for e in result.all_events:
        if e.event_type_value == "STEP_FAILURE":
            err = e.event_specific_data.error
            while err is not None:
                out.append(f"{e.step_key}: {err.message.strip()}")
                err = err.cause
    return "\n".join(out)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ── the whole graph, for real ──────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def built(world):
    annual = _run(world, "annual_refresh", partition_key=str(YEAR))
    # A backfill over the four quarters of the year: one run (single-run backfill policy).
    quarterly = _run(world, "quarterly_refresh", key_range=(f"{YEAR}-01", f"{YEAR}-10"))
    return {"annual": annual, "quarterly": quarterly}


def test_load_audit_and_dq_results_have_a_group_and_events(built, world):
    graph = world["defs"].resolve_asset_graph()
    groups = {
        key.to_user_string(): graph.get(key).group_name
        for key in (dg.AssetKey(["raw", "load_audit"]), dg.AssetKey(["raw", "dq_results"]))
    }
    assert groups == {"raw/load_audit": "landing", "raw/dq_results": "quality"}
    assert {"raw/load_audit", "raw/dq_results"} <= _materialised(built["annual"])


def test_annual_run_lands_gates_builds_and_publishes(built, world):
    result = built["annual"]
    assert result.success, _failure_messages(result)
    annual = {f"raw/{s.name}" for s in contract.SOURCES if s.frequency == "annual"}
    done = _materialised(result)
    assert annual <= done
    assert {"marts/indicator_values", PUBLISHED_KEY.to_user_string()} <= done
    checks = _checks(result)
    assert all(checks[(k, RAW_GATE)] for k in annual), checks
    assert checks[("marts/indicator_values", MART_GATE)]


def test_quarterly_backfill_lands_every_quarter_in_one_run_and_publishes(built, world):
    result = built["quarterly"]
    assert result.success, _failure_messages(result)
    quarterly = {s.name for s in contract.SOURCES if s.frequency == "quarterly"}
    assert {f"raw/{s}" for s in quarterly} | {PUBLISHED_KEY.to_user_string()} <= _materialised(
        result
    )
    # every partition of the range was materialised in this one run
    keys = {
        (
            e.event_specific_data.materialization.asset_key.path[-1],
            e.event_specific_data.materialization.partition,
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
        and e.event_specific_data.materialization.asset_key.path[0] == "raw"
        and e.event_specific_data.materialization.asset_key not in RAW_TABLES
    }
    assert keys == {(s, f"{YEAR}-{m:02d}") for s in quarterly for m in (1, 4, 7, 10)}

    con = duck.connect(world["paths"].warehouse_path(), read_only=True)
    try:
        value_periods = {
            p
            for (p,) in con.execute("select distinct period from marts.indicator_values").fetchall()
        }
        landed = {
            p for (p,) in con.execute("select distinct period from marts.load_audit").fetchall()
        }
    finally:
        con.close()
    assert str(YEAR) in value_periods
    assert {f"{YEAR}Q{q}" for q in range(1, 5)} | {str(YEAR)} <= landed


def test_the_steps_messages_reach_the_run_log_at_their_levels(built, world):
    """What `ygt run` shows is in the Dagster run's log too: each delivery landed as a detail,
    the file the generator planted as rejected as a warning that names the file (never its
    rows), the gates' heads as details."""
    import json
    import logging

    planted = json.loads((world["root"] / "ground_truth" / "defects.json").read_text())
    rejected = [f["file"] for d in planted.values() for f in d["rejected_files"]]
    assert rejected  # the generator plants at least one
    logs = world["instance"].all_logs(built["quarterly"].run_id)
    said = [(e.level, e.user_message) for e in logs]
    for name in ("outpatient_visits", "insurance_settlements"):
        for q in range(1, 5):
            assert any(
                level == logging.DEBUG and msg.startswith(f"{name}/{YEAR}Q{q}: landed ")
                for level, msg in said
            ), (name, q)
    for file in rejected:
        assert (logging.WARNING, file) in {
            (level, msg.removeprefix("REJECTED ").split(": ")[0]) for level, msg in said
        }
    assert any(
        level == logging.DEBUG and msg.startswith("raw quality gates: ") for level, msg in said
    )


def test_quarterly_run_with_nothing_new_skips_dbt_and_publishes(built, world, caplog):
    """Q4 again after the backfill: nothing landed since the last build, so no dbt node runs;
    the marts are reported unchanged, every dbt test's check is reported skipped (its latest
    result standing) without a warning per check, and the warehouse is published."""
    con = duck.connect(world["paths"].work_db(), read_only=True)
    builds = con.execute("select count(*) from raw.dbt_builds").fetchone()[0]
    con.close()
    with caplog.at_level("WARNING"):
        result = _run(world, "quarterly_refresh", partition_key=f"{YEAR}-10")
    assert result.success, _failure_messages(result)
    assert "emitted no result" not in caplog.text
    said = [e.user_message for e in world["instance"].all_logs(result.run_id)]
    assert (
        "dbt build skipped: nothing landed since the last successful build and the "
        "definitions are unchanged, so every model is up to date" in said
    )
    dbt_checks = world["defs"].resolve_assets_def(dg.AssetKey(["marts", "indicator_values"]))
    evaluations = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    skipped = {
        dg.AssetCheckKey(ev.asset_key, ev.check_name)
        for ev in evaluations
        if "skipped" in str(ev.metadata.get("dbt", dg.MetadataValue.text("")).value)
    }
    assert skipped == set(dbt_checks.check_keys)
    mats = [
        e.event_specific_data.materialization
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    ]
    marts = [m for m in mats if m.asset_key.path[0] == "marts"]
    assert marts and all("skipped" in m.metadata["dbt"].value for m in marts)
    assert not any(m.asset_key.path[0] in ("staging", "intermediate") for m in mats)
    assert PUBLISHED_KEY.to_user_string() in _materialised(result)
    con = duck.connect(world["paths"].work_db(), read_only=True)
    assert con.execute("select count(*) from raw.dbt_builds").fetchone()[0] == builds
    con.close()


# ── schedules ──────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "when, key",
    [
        (datetime(2024, 7, 20, 6, tzinfo=SHANGHAI), "2024-04"),  # Q2 ended 30 June
        (datetime(2024, 10, 20, 6, tzinfo=SHANGHAI), "2024-07"),  # Q3
        (datetime(2025, 1, 20, 6, tzinfo=SHANGHAI), "2024-10"),  # Q4 of the previous year
        (datetime(2025, 4, 20, 6, tzinfo=SHANGHAI), "2025-01"),
    ],
)
def test_quarterly_schedule_targets_the_quarter_just_ended(when, key):
    ctx = dg.build_schedule_context(scheduled_execution_time=when)
    request = automation.quarterly_refresh_schedule(ctx)
    assert request.partition_key == key
    assert (
        periods.period_of_partition_key(key)
        == {"2024-04": "2024Q2", "2024-07": "2024Q3", "2024-10": "2024Q4", "2025-01": "2025Q1"}[key]
    )
    with dg.partition_loading_context(effective_dt=when):  # the quarter just ended = last partition
        assert partitions.quarterly_partitions.get_last_partition_key() == key


def test_schedules_and_sensor_start_stopped_and_the_readme_says_how_to_start_them():
    readme = (settings.PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert "The schedules and the sensor start STOPPED" in readme
    for schedule in (automation.quarterly_refresh_schedule, automation.annual_refresh_schedule):
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        assert f"dagster schedule start\n{schedule.name}" in readme or (
            f"dagster schedule start {schedule.name}" in readme
        )
    assert automation.landing_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert "sensor start landing_sensor" in readme


def test_annual_schedule_targets_the_previous_year():
    when = datetime(2025, 3, 15, 6, tzinfo=SHANGHAI)
    request = automation.annual_refresh_schedule(
        dg.build_schedule_context(scheduled_execution_time=when)
    )
    assert request.partition_key == "2024"
    with dg.partition_loading_context(effective_dt=when):
        assert partitions.annual_partitions.get_last_partition_key() == "2024"
    assert automation.annual_refresh_schedule.cron_schedule == "0 6 15 3 *"
    assert automation.quarterly_refresh_schedule.cron_schedule == "0 6 20 1,4,7,10 *"


def test_period_and_partition_keys_round_trip():
    for period in ("2023", "2024Q1", "2024Q2", "2024Q3", "2024Q4"):
        assert periods.period_of_partition_key(periods.partition_key_of(period)) == period
    assert periods.partition_key_of("2024Q5") is None
    # a month that does not start a quarter: the message lists the valid keys
    with pytest.raises(ValueError, match=r"'2024-05' is not a ygt period.*2024-04"):
        periods.period_of_partition_key("2024-05")


def test_singular_dbt_test_is_an_asset_check_of_indicator_values():
    from dagster_project.assets import ygt_dbt_models

    key = dg.AssetCheckKey(
        dg.AssetKey(["marts", "indicator_values"]), "assert_every_area_period_indicator_present"
    )
    assert key in ygt_dbt_models.check_keys


# ── landing sensor ─────────────────────────────────────────────────────────────────────────


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_sensor_fires_once_per_delivery(tmp_path, monkeypatch):
    monkeypatch.setenv("YGT_SENSOR_SETTLE_SECONDS", "0")
    landing = tmp_path / "landing"
    _write(landing / "facilities" / "2024" / "a.csv", "org_code\nH1\n")
    _write(landing / "population" / "2024" / "p.csv", "county_code\n410101\n")
    _write(landing / "insurance_settlements" / "2024Q2" / "s.csv", "setl_id\nS1\n")
    _write(landing / "insurance_settlements" / "2024Q2" / ".s2.csv.part", "in flight")  # ignored
    _write(landing / "facilities" / "2099" / "f.csv", "org_code\nH1\n")  # not a partition yet
    _write(landing / "not_a_source" / "2024" / "x.csv", "a\n1\n")  # ignored
    paths = YgtPaths(landing=str(landing), warehouse=str(tmp_path / "w.duckdb"))
    defs = build_defs(paths)

    def tick(cursor):
        ctx = dg.build_sensor_context(cursor=cursor, resources={"ygt": paths}, definitions=defs)
        result = automation.landing_sensor(ctx)
        return result.run_requests or [], result.cursor

    runs, cursor = tick(None)
    by_key = {(r.job_name, r.partition_key): r for r in runs}
    assert set(by_key) == {("annual_refresh", "2024"), ("quarterly_refresh", "2024-04")}
    annual = by_key[("annual_refresh", "2024")]
    assert set(annual.asset_selection) >= {
        dg.AssetKey(["raw", "facilities"]),
        dg.AssetKey(["raw", "population"]),
        PUBLISHED_KEY,
    }
    assert dg.AssetKey(["raw", "insurance_settlements"]) not in annual.asset_selection
    assert annual.tags["ygt/sources"] == "facilities,population"

    # same files: nothing
    runs, cursor2 = tick(cursor)
    assert runs == [] and cursor2 == cursor

    # a new delivery for another quarter: exactly one run, for that partition and source
    _write(landing / "outpatient_visits" / "2024Q3" / "v.csv", "visit_id\nV1\n")
    runs, cursor = tick(cursor)
    assert [(r.job_name, r.partition_key, r.tags["ygt/sources"]) for r in runs] == [
        ("quarterly_refresh", "2024-07", "outpatient_visits")
    ]
    assert tick(cursor)[0] == []

    # a re-delivery (file replaced) of a period already seen fires again, once
    time.sleep(0.01)
    _write(landing / "facilities" / "2024" / "a.csv", "org_code\nH1\nH2\n")
    runs, cursor = tick(cursor)
    assert [(r.partition_key, r.tags["ygt/sources"]) for r in runs] == [("2024", "facilities")]
    assert tick(cursor)[0] == []
    # every run key is distinct (Dagster also de-duplicates on run_key)
    assert len({r.run_key for r in [annual, *runs]}) == 2

    # rewritten in place, size and modification time restored (as `cp -p` or rsync leave a
    # corrected file): its change time differs, so the sensor fires again
    f = landing / "facilities" / "2024" / "a.csv"
    st = f.stat()
    time.sleep(0.01)
    f.write_text("org_code\nH1\nH3\n", encoding="utf-8")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (f.stat().st_size, f.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    runs, cursor = tick(cursor)
    assert [(r.partition_key, r.tags["ygt/sources"]) for r in runs] == [("2024", "facilities")]


def test_sensor_waits_for_files_to_settle(tmp_path, monkeypatch):
    monkeypatch.setenv("YGT_SENSOR_SETTLE_SECONDS", "3600")
    landing = tmp_path / "landing"
    _write(landing / "deaths" / "2024" / "d.csv", "death_id\nD1\n")
    paths = YgtPaths(landing=str(landing), warehouse=str(tmp_path / "w.duckdb"))
    ctx = dg.build_sensor_context(cursor=None, resources={"ygt": paths})
    result = automation.landing_sensor(ctx)
    assert not result.run_requests
    assert "settling" in (result.skip_reason.skip_message if result.skip_reason else "")


# ── dagster definitions validate ───────────────────────────────────────────────────────────


def test_dagster_definitions_validate():
    exe = Path(sys.executable).parent / "dagster"
    env = {**os.environ, "DAGSTER_DISABLE_TELEMETRY": "true"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        [str(exe), "definitions", "validate"],
        cwd=settings.PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


# ── a blocking check failure stops publication (runs last: it plants bad data) ─────────────


def _bad_settlements(path: Path) -> None:
    """Two bad settlements: the pooled fund pays more than the total cost, and a reversal
    cancelling a settlement that does not exist."""
    cols = [
        c.name
        for c in next(s for s in contract.SOURCES if s.name == "insurance_settlements").columns
    ]
    base = {
        "setl_id": "BAD0001",
        "mdtrt_id": "MBAD0001",
        "psn_no": "P000000000000001",
        "certno": "11010519491231002X",
        "gend": "1",
        "brdy": "1949-12-31",
        "insutype": "390",
        "med_type": "11",
        "insu_admdvs": "410101",
        "mdtrtarea_admdvs": "410101",
        "fixmedins_code": "H41010100001",
        "fixmedins_name": "测试医院",
        "fixmedins_type": "1",
        "begndate": f"{YEAR}-02-01",
        "enddate": f"{YEAR}-02-01",
        "setl_time": f"{YEAR}-02-01 10:00:00",
        "dise_codg": "I10",
        "medfee_sumamt": "100.00",
        "hifp_pay": "900.00",
        "fund_pay_sumamt": "900.00",
        "acct_pay": "0.00",
        "psn_cash_pay": "0.00",
        "refd_setl_flag": "0",
        "init_setl_id": "",
    }
    reversal = {
        **base,
        "setl_id": "BAD0002",
        "medfee_sumamt": "-50.00",
        "hifp_pay": "-30.00",
        "fund_pay_sumamt": "-30.00",
        "psn_cash_pay": "-20.00",
        "refd_setl_flag": "1",
        "init_setl_id": "DOES-NOT-EXIST",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerow({c: base.get(c, "") for c in cols})
        w.writerow({c: reversal.get(c, "") for c in cols})


def test_blocking_check_failure_stops_publication(built, world):
    assert built["quarterly"].success
    warehouse = world["paths"].warehouse_path()
    before = _digest(warehouse)

    bad_landing = world["root"] / "bad_landing"
    shutil.copytree(world["landing"], bad_landing)
    _bad_settlements(bad_landing / "insurance_settlements" / f"{YEAR}Q1" / "zz_bad.csv")
    bad = YgtPaths(landing=str(bad_landing), warehouse=world["paths"].warehouse)
    defs = build_defs(bad)

    result = _run(world, "quarterly_refresh", partition_key=f"{YEAR}-01", defs=defs)
    assert not result.success
    checks = _checks(result)
    assert checks[("raw/insurance_settlements", RAW_GATE)] is False, checks
    done = _materialised(result)
    assert PUBLISHED_KEY.to_user_string() not in done
    assert not any(k.startswith(("staging/", "marts/")) for k in done), done
    assert _digest(warehouse) == before  # the previous warehouse is untouched

    # Publishing on its own is refused too while the latest raw gate is failed.
    alone = defs.resolve_job_def("rebuild_warehouse").execute_in_process(
        instance=world["instance"],
        raise_on_error=False,
        asset_selection=[PUBLISHED_KEY],
    )
    assert not alone.success
    assert "not published" in _failure_messages(alone)
    assert _digest(warehouse) == before
    assert set(LANDING_KEYS) >= {dg.AssetKey(["raw", "insurance_settlements"])}


def test_dg_launch_unknown_partition_is_one_message():
    """`dg launch --partition 2024-05` (not the first month of a quarter): a message, no traceback."""
    exe = Path(sys.executable).parent / "dg"
    env = {**os.environ, "DAGSTER_DISABLE_TELEMETRY": "true", "DAGSTER_HOME": ""}
    env.pop("DAGSTER_HOME")  # an ephemeral instance: the key is refused before any run starts
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        [str(exe), "launch", "--job", "quarterly_refresh", "--partition", "2024-05"],
        cwd=settings.PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    assert "`2024-05`" in proc.stderr
    assert "2024-01, 2024-04, 2024-07, 2024-10" in proc.stderr
