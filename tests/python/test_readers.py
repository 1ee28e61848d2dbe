"""Readers (DuckDB clients, BI tools through SQLAlchemy) are safe while the warehouse refreshes.

- A connection opened before a refresh keeps reading the previous complete warehouse, without
  error; a connection opened after it sees the new one.
- A publish killed with SIGKILL at any point leaves the published file byte-identical, and the
  next publish succeeds.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration import duck
from orchestration.publish import publish

sa = pytest.importorskip("sqlalchemy", reason="SQLAlchemy + duckdb-engine come with the dev extras")
pytest.importorskip("duckdb_engine", reason="duckdb-engine comes with the dev extras")

ROOT = Path(__file__).resolve().parents[2]


def make_work_db(path: Path, version: int, rows: int) -> None:
    """A working database whose public table says which version it is in every row."""
    con = duck.connect(path)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE marts.indicator_values AS
        SELECT 'county' AS area_level, printf('99%04d', i % 5000) AS area_code,
               '2024' AS period, 'I07' AS indicator_code, i * 1.0 AS numerator,
               (i + 1) * 1.0 AS denominator, {version}::INTEGER AS version
        FROM range({rows}) t(i)
        """
    )
    con.close()


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions_duck(con) -> tuple[int, int]:
    return con.execute("SELECT min(version), count(*) FROM marts.indicator_values").fetchone()


def versions_fresh(path: Path) -> tuple[int, int]:
    """Read the file as it is now (ATTACH bypasses DuckDB's per-process instance cache)."""
    con = duck.connect()
    try:
        con.execute(f"ATTACH '{path}' AS wh (READ_ONLY)")
        return con.execute(
            "SELECT min(version), count(*) FROM wh.marts.indicator_values"
        ).fetchone()
    finally:
        con.close()


def versions_sa(conn) -> tuple[int, int]:
    return tuple(
        conn.execute(sa.text("SELECT min(version), count(*) FROM marts.indicator_values")).one()
    )


class ReaderProcess:
    """A separate client process (like the DuckDB CLI or a notebook) with the file open read-only."""

    SCRIPT = (
        "import json, sys, duckdb\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "for line in sys.stdin:\n"
        "    print(json.dumps(con.execute(line).fetchone()), flush=True)\n"
    )

    def __init__(self, path: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.SCRIPT, str(path)],
            cwd=ROOT,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def query(self, sql: str):
        self.proc.stdin.write(sql.replace("\n", " ") + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"reader process died (exit {self.proc.poll()})"
        return tuple(json.loads(line))

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


VERSION_SQL = "SELECT min(version), count(*) FROM marts.indicator_values"


def test_open_readers_keep_previous_warehouse_during_refresh(tmp_path):
    work, wh = tmp_path / "work.duckdb", tmp_path / "warehouse.duckdb"
    make_work_db(work, version=1, rows=1000)
    publish(work, wh)

    analyst = ReaderProcess(wh)  # e.g. the DuckDB CLI, in its own process
    engine = sa.create_engine(f"duckdb:///{wh}", connect_args={"read_only": True})
    bi = engine.connect()  # a BI tool's open session (SQLAlchemy + duckdb-engine)
    assert analyst.query(VERSION_SQL) == (1, 1000)
    assert versions_sa(bi) == (1, 1000)

    make_work_db(work, version=2, rows=1500)
    publish(work, wh)  # the refresh, while both readers are open

    # open readers keep reading the complete previous warehouse, without error
    assert analyst.query(VERSION_SQL) == (1, 1000)
    assert analyst.query("SELECT sum(numerator)::DOUBLE FROM marts.indicator_values") == (
        sum(range(1000)),
    )
    assert versions_sa(bi) == (1, 1000)

    # a new connection (another process) sees the new warehouse while the old readers are open
    newcomer = ReaderProcess(wh)
    assert newcomer.query(VERSION_SQL) == (2, 1500)
    newcomer.close()
    assert analyst.query(VERSION_SQL) == (1, 1000)
    analyst.close()

    # SQLAlchemy's pool keeps its DuckDB connection, and DuckDB reuses an open database
    # instance for the same path inside one process: a BI server sees the refresh once its
    # pooled connections are closed (NullPool, pool_recycle, or engine.dispose()).
    bi.close()
    engine.dispose()
    with engine.connect() as conn:
        assert versions_sa(conn) == (2, 1500)
    engine.dispose()

    nullpool = sa.create_engine(
        f"duckdb:///{wh}", connect_args={"read_only": True}, poolclass=sa.pool.NullPool
    )
    with nullpool.connect() as conn:
        assert versions_sa(conn) == (2, 1500)
    make_work_db(work, version=3, rows=10)
    publish(work, wh)
    with nullpool.connect() as conn:  # no pooled connection left open: the next session is fresh
        assert versions_sa(conn) == (3, 10)
    nullpool.dispose()


def test_same_process_new_connection_while_old_open_sees_old_file(tmp_path):
    """DuckDB caveat (documented for the analyst guide): inside one process, duckdb.connect(path)
    reuses an already open database instance for that path, so it returns the file as it was
    when first opened; ATTACH from a fresh in-memory connection opens the current file."""
    work, wh = tmp_path / "work.duckdb", tmp_path / "warehouse.duckdb"
    make_work_db(work, version=1, rows=5)
    publish(work, wh)
    old = duck.connect(wh, read_only=True)
    make_work_db(work, version=2, rows=7)
    publish(work, wh)
    same_path = duck.connect(wh, read_only=True)
    assert versions_duck(same_path) == (1, 5)  # cached instance: the previous file
    attached = duck.connect()
    attached.execute(f"ATTACH '{wh}' AS wh (READ_ONLY)")
    assert attached.execute(
        "SELECT min(version), count(*) FROM wh.marts.indicator_values"
    ).fetchone() == (2, 7)
    for con in (old, same_path, attached):
        con.close()
    fresh = duck.connect(wh, read_only=True)
    assert versions_duck(fresh) == (2, 7)
    fresh.close()


PUBLISH_SCRIPT = """
import sys
from orchestration.publish import publish
publish(sys.argv[1], sys.argv[2])
"""


def start_publish(work: Path, wh: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PUBLISH_SCRIPT, str(work), str(wh)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def temp_files(wh: Path) -> list[Path]:
    return sorted(wh.parent.glob(f"*{wh.name}.tmp-*"))


def wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def test_killed_publish_leaves_previous_warehouse_byte_identical(tmp_path):
    rows = 3_000_000  # about 1.5 s to publish: long enough to kill it mid-way
    work, wh = tmp_path / "work.duckdb", tmp_path / "warehouse.duckdb"
    make_work_db(work, version=1, rows=rows)
    t0 = time.monotonic()
    proc = start_publish(work, wh)
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    full = time.monotonic() - t0
    before = digest(wh)
    reader = duck.connect(wh, read_only=True)

    make_work_db(work, version=2, rows=rows + 1)

    # Kill points: as soon as the temp file exists, once it has data in it, and at fixed
    # fractions of a full publish (measured above, interpreter start-up included).
    kill_points = [
        ("temp file created", lambda tmp: tmp.exists()),
        ("temp file > 1 MB", lambda tmp: tmp.exists() and tmp.stat().st_size > 1_000_000),
        ("30% of a publish", None),
        ("60% of a publish", None),
        ("85% of a publish", None),
    ]
    killed_mid_way = 0
    for label, predicate in kill_points:
        proc = start_publish(work, wh)
        if predicate is not None:
            tmp = wh.with_name(f".publishing-{wh.name}.tmp-{proc.pid}")  # this publish's temp file
            assert wait_for(lambda: predicate(tmp), timeout=60), f"publish never reached: {label}"
        else:
            time.sleep(full * float(label.split("%")[0]) / 100)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if digest(wh) == before:
            killed_mid_way += 1
            # the published file is untouched and still opens and reads
            assert versions_fresh(wh) == (1, rows)
        else:
            # killed after os.replace: then the whole new warehouse must be there
            assert versions_fresh(wh) == (2, rows + 1), (
                f"half-published warehouse after kill at {label}"
            )
            break
    assert killed_mid_way >= 2, "the publish was too fast to be killed mid-way; raise `rows`"
    # an already open reader is never disturbed
    assert versions_duck(reader) == (1, rows)
    reader.close()

    # the next publish succeeds in spite of the temp files the killed ones left
    left_over = [p.name for p in temp_files(wh)]
    result = publish(work, wh)
    assert result.tables["marts.indicator_values"] == rows + 1
    assert versions_fresh(wh) == (2, rows + 1)
    print(
        f"full publish {full:.2f}s; killed mid-way {killed_mid_way} times; left over: {left_over}"
    )


def test_publish_removes_temp_files_of_dead_publishes(tmp_path):
    work, wh = tmp_path / "work.duckdb", tmp_path / "warehouse.duckdb"
    make_work_db(work, version=1, rows=10)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    stale = [
        tmp_path / f"{name}.tmp-{dead.pid}{wal}"
        for name in (f".publishing-{wh.name}", f".{wh.name}")  # today's name, and earlier versions'
        for wal in ("", ".wal")
    ]
    for p in stale:
        p.write_bytes(b"left by a killed publish")
    publish(work, wh)
    assert not any(p.exists() for p in stale)
