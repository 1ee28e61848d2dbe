"""`ygt` refuses what it cannot do well with one clear message and a non-zero exit, and faults
at publish (concurrent runs, read-only folder, full disk) leave the published file untouched
and no temp file behind. Every case runs for real: the `ygt` command in a subprocess, a second
process holding the run lock, a publish as an unprivileged user, a publish under a file-size
limit.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from ygt_command import YGT, digest, ygt

from orchestration import duck, settings


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir() if ".tmp" in p.name)


def make_work_db(path: Path, values: list[tuple[str, str, float]]) -> None:
    """A working database with a minimal marts.indicator_values (area, period, value)."""
    con = duck.connect(path)
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.indicator_values (area_level varchar, "
        "area_code varchar, area_name varchar, period varchar, quarter varchar, "
        "indicator_code varchar, value double)"
    )
    if values:
        con.executemany(
            "insert into marts.indicator_values values ('county', ?, 'X县', ?, null, 'I07', ?)",
            values,
        )
    con.close()


def tiny_landing(path: Path) -> Path:
    from orchestration.generate import generate

    generate(path, counties=1, years=(2024,), scale=0.02, seed=5, progress=lambda m: None)
    return path


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    return tiny_landing(tmp_path_factory.mktemp("faults") / "landing")


# ── refusals before anything is landed ─────────────────────────────────────────────────────


def test_quarter_on_a_new_warehouse_says_which_quarters_to_land_first(landing, tmp_path):
    wh = tmp_path / "w.duckdb"
    proc = ygt("run", "--landing", str(landing), "--warehouse", str(wh), "--period", "2024Q4")
    assert proc.returncode == 2, proc.stderr
    msg = proc.stderr
    assert "no 2024Q1, 2024Q2, 2024Q3 landed" in msg, msg
    assert "--period 2024`" in msg  # what to run instead
    assert "does not exist yet" in msg and "untouched" not in msg  # no previous warehouse claimed
    assert "Traceback" not in msg
    assert not wh.exists()


def test_period_without_deliveries_is_refused_and_names_the_periods_present(landing, tmp_path):
    wh = tmp_path / "w.duckdb"
    proc = ygt("run", "--landing", str(landing), "--warehouse", str(wh), "--period", "2025")
    assert proc.returncode == 2
    assert "no deliveries for --period 2025" in proc.stderr
    assert "2024, 2024Q1, 2024Q2, 2024Q3, 2024Q4" in proc.stderr  # generated: the year 2024
    assert not wh.exists()


def test_warehouse_in_a_missing_folder_is_refused_not_created(landing, tmp_path):
    wh = tmp_path / "typo" / "w.duckdb"
    proc = ygt("run", "--landing", str(landing), "--warehouse", str(wh))
    assert proc.returncode == 2
    assert str(tmp_path / "typo") in proc.stderr and "--create-dir" in proc.stderr
    assert not (tmp_path / "typo").exists()


def test_an_empty_build_does_not_replace_a_published_warehouse(tmp_path):
    from orchestration import pipeline

    work, wh = tmp_path / "work.duckdb", tmp_path / "w.duckdb"
    make_work_db(work, [("990101", "2024", 0.5)])
    pipeline.publish_step(work, wh, gates=[])
    before = digest(wh)
    make_work_db(work, [])  # the next build computed nothing
    with pytest.raises(pipeline.PublicationRefused, match="--allow-empty") as exc:
        pipeline.publish_step(work, wh, gates=[])
    assert f"previous warehouse {wh} is untouched" in str(exc.value)
    assert digest(wh) == before
    pipeline.publish_step(work, wh, gates=[], allow_empty=True)  # asked for: published
    assert digest(wh) != before


# ── ygt show / ygt contract ────────────────────────────────────────────────────────────────


def test_show_missing_file_and_missing_period_are_messages(tmp_path):
    from orchestration import pipeline

    proc = ygt("show", "--warehouse", str(tmp_path / "nope.duckdb"))
    assert proc.returncode == 2 and "no warehouse file at" in proc.stderr
    assert "Traceback" not in proc.stderr

    work, wh = tmp_path / "work.duckdb", tmp_path / "w.duckdb"
    make_work_db(work, [("990101", "2023", 0.5), ("990101", "2024", 0.25)])
    pipeline.publish_step(work, wh, gates=[])
    proc = ygt("show", "--warehouse", str(wh), "--period", "2030")
    assert proc.returncode == 2
    assert "no period 2030" in proc.stderr and "periods present: 2023, 2024" in proc.stderr
    assert proc.stdout == ""


def test_contract_into_a_closed_pipe_exits_quietly():
    """`ygt contract | head -1`: the reader is gone before ygt writes."""
    r, w = os.pipe()
    os.close(r)  # nobody reads: every write gets EPIPE
    proc = subprocess.run(
        [*YGT, "contract"],
        stdout=w,
        stderr=subprocess.PIPE,
        text=True,
        cwd=settings.PROJECT_DIR,
        timeout=120,
    )
    os.close(w)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


# ── two runs on one warehouse ──────────────────────────────────────────────────────────────

HOLDER = """
import sys, time
from pathlib import Path
from orchestration import runlock
with runlock.hold(Path(sys.argv[1]), command="ygt run HOLDER-UNDER-TEST"):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(work_db: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(work_db), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=settings.PROJECT_DIR,
    )
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_second_run_names_the_run_holding_the_warehouse_then_can_wait(landing, tmp_path):
    wh = tmp_path / "w.duckdb"
    work_db = settings.work_db_for(wh)
    holder = _hold(work_db, 600)  # killed below; long enough for a slow machine
    try:
        proc = ygt("run", "--landing", str(landing), "--warehouse", str(wh))
        assert proc.returncode == 2
        assert f"pid {holder.pid}" in proc.stderr and "HOLDER-UNDER-TEST" in proc.stderr
        assert "--wait" in proc.stderr and "Traceback" not in proc.stderr
        assert not wh.exists()
    finally:
        holder.kill()
        holder.wait()

    # --wait queues behind the holder, then does its work (here: landing only)
    holder = _hold(work_db, 600)
    waiting = subprocess.Popen(
        [
            *YGT,
            "land",
            "--landing",
            str(landing),
            "--warehouse",
            str(wh),
            "--period",
            "2024Q1",
            "--wait",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=settings.PROJECT_DIR,
    )
    first = ""
    for line in waiting.stderr:  # blocks until ygt land reports that it waits
        first = line
        if "waiting for the run that holds the warehouse" in line:
            break
    assert f"pid {holder.pid}" in first, first
    holder.kill()  # the holder ends: the waiting run goes on
    holder.wait()
    _, rest = waiting.communicate(timeout=600)
    assert waiting.returncode == 0, rest
    con = duck.connect(work_db, read_only=True)
    landed = {p for (p,) in con.execute("select distinct period from raw.deliveries").fetchall()}
    con.close()
    assert landed == {
        "2024",
        "2024Q1",
    }  # --period 2024Q1 lands the quarter and the year's registers


# ── publish faults, for real ───────────────────────────────────────────────────────────────

PUBLISH = """
import os, resource, signal, sys
from pathlib import Path
from orchestration import pipeline
mode, work, wh = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
if mode == "nobody":
    os.setgid(65534); os.setuid(65534)
if mode == "full":  # writes beyond 200 kB fail with EFBIG, as they fail with ENOSPC on a full disk
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
try:
    pipeline.publish_step(work, wh, gates=[])
except pipeline.PipelineError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
"""


def _published(root: Path) -> tuple[Path, Path]:
    work, wh = root / "work.duckdb", root / "wh" / "w.duckdb"
    wh.parent.mkdir()
    make_work_db(work, [("990101", "2024", 0.5)])
    from orchestration import pipeline

    pipeline.publish_step(work, wh, gates=[])
    # the next build is bigger than the file-size limit
    con = duck.connect(work)
    con.execute(
        "insert into marts.indicator_values select 'county', lpad(i::varchar, 6, '0'), "
        "'X县', '2024', null, 'I07', i / 7 from range(60000) t(i)"
    )
    con.close()
    return work, wh


def _publish(mode: str, work: Path, wh: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PUBLISH, mode, str(work), str(wh)],
        capture_output=True,
        text=True,
        cwd=settings.PROJECT_DIR,
        timeout=300,
    )


def _has_nobody() -> bool:
    try:
        return pwd.getpwuid(65534) is not None
    except KeyError:
        return False


@pytest.mark.skipif(
    os.geteuid() != 0 or not _has_nobody(),
    reason="needs root and the user nobody (uid 65534) to publish unprivileged",
)
def test_publish_into_a_read_only_folder(tmp_path):
    """Root ignores permissions, so the publish runs as `nobody`, for whom the warehouse folder
    (mode 0555, owned by root) is read-only; the working database is world-readable."""
    root = Path(tempfile.mkdtemp(prefix="ygt-ro-"))
    try:
        root.chmod(0o755)
        work, wh = _published(root)
        work.chmod(0o644)
        before = digest(wh)
        wh.parent.chmod(0o555)
        proc = _publish("nobody", work, wh)
        assert proc.returncode == 2, proc.stderr
        assert "is not writable" in proc.stderr and "untouched" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        assert digest(wh) == before
        assert leftovers(wh.parent) == []
    finally:
        (root / "wh").chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)


def test_publish_on_a_full_disk(tmp_path):
    work, wh = _published(tmp_path)
    before = digest(wh)
    proc = _publish("full", work, wh)
    assert proc.returncode == 2, proc.stderr
    assert "disk holding" in proc.stderr and "is full" in proc.stderr, proc.stderr
    assert "untouched" in proc.stderr and "Traceback" not in proc.stderr
    assert digest(wh) == before
    assert leftovers(wh.parent) == []


# ── the run history in Dagster, and the no-op refresh ──────────────────────────────────────


@pytest.mark.slow
def test_runs_are_recorded_in_dagster_and_a_noop_refresh_skips_dbt(landing, tmp_path):
    import dagster as dg

    home, wh = tmp_path / "dagster_home", tmp_path / "w.duckdb"
    env = {"DAGSTER_HOME": str(home)}
    first = ygt(
        "run", "--landing", str(landing), "--warehouse", str(wh), "--period", "2024", env=env
    )
    assert first.returncode == 0, first.stderr[-3000:]
    again = ygt(
        "run", "--landing", str(landing), "--warehouse", str(wh), "--period", "2024Q4", env=env
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "dbt build skipped: nothing landed since the last successful build" in again.stderr

    con = duck.connect(settings.work_db_for(wh), read_only=True)
    builds = con.execute("select count(*) from raw.dbt_builds").fetchone()[0]
    con.close()
    assert builds == 1  # the second run built nothing

    instance = dg.DagsterInstance.from_config(str(home))
    published = instance.fetch_materializations(dg.AssetKey(["published_warehouse"]), limit=10)
    assert len(published.records) == 2  # both runs published
    # the generated year's four quarters of visits, as quarterly partition keys
    assert instance.get_materialized_partitions(dg.AssetKey(["raw", "outpatient_visits"])) == {
        "2024-01",
        "2024-04",
        "2024-07",
        "2024-10",
    }
    assert instance.get_latest_materialization_event(dg.AssetKey(["marts", "indicator_values"]))
    check = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["marts", "indicator_values"]), "mart_quality_gates"), limit=5
    )
    assert len(check) == 2 and all(c.status.value == "SUCCEEDED" for c in check)
    # every check of the code location has a result: the dbt tests' checks as dagster-dbt
    # defines them, recorded from the first run's build (the second built nothing)
    from dagster_project.assets import ygt_dbt_models

    never_run = [
        key
        for key in ygt_dbt_models.check_keys
        if not instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    ]
    assert never_run == []
    for table in ("load_audit", "dq_results"):
        assert instance.get_latest_materialization_event(dg.AssetKey(["raw", table]))


# ── the working database's disk: read-only, full while landing (issue 32) ──────────────────


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs (root only): `mount(size, read_only=False)` returns its folder."""
    mounted = []

    def mount(size: str) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'not permitted'})")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _small_warehouse(folder: Path, tmp_path: Path) -> Path:
    work = tmp_path / "small.work.duckdb"
    make_work_db(work, [("990101", "2024", 0.5)])
    from orchestration import pipeline

    return pipeline.publish_step(work, folder / "w.duckdb", gates=[]).warehouse


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only file system needs root")
def test_warehouse_on_a_read_only_file_system_is_one_message(landing, tmp_path, tmpfs):
    disk = tmpfs("8m")
    wh = _small_warehouse(disk, tmp_path)
    before = digest(wh)
    remount = subprocess.run(
        ["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True
    )
    if remount.returncode != 0:
        pytest.skip(f"cannot remount read-only ({remount.stderr.strip()})")
    proc = ygt("run", "--landing", str(landing), "--warehouse", str(wh))
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    message = [line for line in proc.stderr.splitlines() if line.startswith("ygt run:")]
    assert len(message) == 1, proc.stderr
    assert f"the folder {disk} is on a read-only file system" in message[0]
    assert "remount it read-write, or choose a --warehouse on a writable disk" in message[0]
    assert f"{wh} is untouched" in message[0]
    assert digest(wh) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_disk_filling_while_landing_is_one_message(landing, tmp_path, tmpfs):
    """The warehouse folder is a 1 MB disk: the published file fits, the working database
    the landing needs does not."""
    disk = tmpfs("1m")
    wh = _small_warehouse(disk, tmp_path)
    before = digest(wh)
    proc = ygt("run", "--landing", str(landing), "--warehouse", str(wh))
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    message = [line for line in proc.stderr.splitlines() if line.startswith("ygt run:")]
    assert len(message) == 1, proc.stderr
    assert f"the disk holding {disk}" in message[0] and "is full (while: land)" in message[0]
    assert "free space there" in message[0] and f"{wh} is untouched" in message[0]
    assert digest(wh) == before
    assert leftovers(disk) == []


@pytest.mark.slow
def test_a_failing_dbt_build_is_one_message_not_a_traceback(landing, tmp_path):
    """A parameter dbt cannot use (a text where SQL needs a number) fails two models."""
    wh = _small_warehouse(tmp_path, tmp_path)
    before = digest(wh)
    proc = ygt(
        "run",
        "--landing",
        str(landing),
        "--warehouse",
        str(wh),
        env={"YGT_DBT_VARS": '{"min_dispatch_days": "abc"}'},
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "ygt run: not published: dbt build failed" in proc.stderr
    assert "int_i04__physician_days" in proc.stderr  # the model that reads the parameter
    assert f"{wh} is untouched" in proc.stderr
    assert digest(wh) == before
