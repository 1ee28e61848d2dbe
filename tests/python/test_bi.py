"""BI readers in long-lived, threaded processes see a refresh (docs/bi.md).

Inside one process DuckDB reuses the database instance open for a path, so a pool of readers
whose queries always overlap would read the first warehouse forever. Each publish also links the
new file under a path of its own (`<stem>_versions/<id>/<name>`) and switches
`<stem>_versions/CURRENT`; readers that resolve it per connection open the new version.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import duckdb
import pytest

from orchestration import bi, duck
from orchestration import publish as pub
from orchestration.publish import current_version, publish, versions_dir

sa = pytest.importorskip("sqlalchemy", reason="SQLAlchemy + duckdb-engine come with the dev extras")
pytest.importorskip("duckdb_engine", reason="duckdb-engine comes with the dev extras")

ROOT = Path(__file__).resolve().parents[2]
ROWS = {1: 1000, 2: 1500, 3: 700}  # rows of each published version: each version tells itself apart
SQL = "select min(version), max(version), count(*) from marts.indicator_values"


def make_work_db(path: Path, version: int) -> None:
    con = duck.connect(path)
    con.execute("create schema if not exists marts")
    con.execute(
        f"create or replace table marts.indicator_values as select 'county' as area_level, "
        f"i * 1.0 as numerator, {version}::integer as version from range({ROWS[version]}) t(i)"
    )
    con.close()


def publish_version(tmp_path: Path, version: int) -> Path:
    work, wh = tmp_path / "work.duckdb", tmp_path / "warehouse.duckdb"
    make_work_db(work, version)
    publish(work, wh)
    return wh


def read_fresh(path: Path) -> tuple:
    """The file as it is on disk now (ATTACH bypasses the per-process instance cache)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{path}' as f (read_only)")
        return con.execute(SQL.replace("marts.", "f.marts.")).fetchone()
    finally:
        con.close()


def complete(version: int) -> tuple:
    return (version, version, ROWS[version])


# --- the layout a publish leaves ---------------------------------------------------------------


def test_publish_links_each_version_and_points_current_at_it(tmp_path):
    wh = publish_version(tmp_path, 1)
    v1 = current_version(wh)
    assert v1.parent.parent == versions_dir(wh) == tmp_path / "warehouse_versions"
    assert v1.name == "warehouse.duckdb"  # same file name: DuckDB's catalog name stays `warehouse`
    assert os.stat(v1).st_ino == os.stat(wh).st_ino  # a hard link: no second copy on disk
    assert (versions_dir(wh) / "CURRENT").read_text().strip() == v1.parent.name

    publish_version(tmp_path, 2)
    v2 = current_version(wh)
    assert v2 != v1 and v2.parent.name > v1.parent.name  # folder names sort by publication
    assert read_fresh(wh) == read_fresh(v2) == complete(2)
    assert read_fresh(v1) == complete(1)  # the version before is kept

    publish_version(tmp_path, 3)
    v3 = current_version(wh)
    folders = sorted(p.name for p in versions_dir(wh).iterdir() if p.is_dir())
    assert folders == [v2.parent.name, v3.parent.name]  # current + the one before; v1 removed
    assert not list(tmp_path.glob("*.tmp-*")) and not list(versions_dir(wh).glob(".*"))


def test_failed_publish_changes_neither_the_file_nor_the_versions(tmp_path, monkeypatch):
    wh = publish_version(tmp_path, 1)
    before = (wh.read_bytes(), (versions_dir(wh) / "CURRENT").read_text())
    folders = sorted(versions_dir(wh).iterdir())
    make_work_db(tmp_path / "work.duckdb", 2)

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pub.os, "link", no_space)  # no hard links here: publish copies ...
    monkeypatch.setattr(pub.shutil, "copyfile", no_space)  # ... and the copy fails
    with pytest.raises(OSError):
        publish(tmp_path / "work.duckdb", wh)
    assert (wh.read_bytes(), (versions_dir(wh) / "CURRENT").read_text()) == before
    assert sorted(versions_dir(wh).iterdir()) == folders
    assert not list(tmp_path.glob(".publishing-*")) and not list(versions_dir(wh).glob(".*"))


def test_without_hard_links_the_version_is_a_copy(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(pub.os, "link", no_links)
    wh = publish_version(tmp_path, 1)
    v1 = current_version(wh)
    assert v1 != wh and os.stat(v1).st_ino != os.stat(wh).st_ino
    assert v1.read_bytes() == wh.read_bytes()


def test_current_version_falls_back_to_the_file_itself(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    assert current_version(wh) == wh  # nothing published with versions
    versions_dir(wh).mkdir()
    pointer = versions_dir(wh) / "CURRENT"
    for content in ("", "gone-folder\n", "../../etc\n", ".hidden\n"):
        pointer.write_text(content)
        assert current_version(wh) == wh, content


def test_publish_removes_folders_of_killed_publishes(tmp_path):
    import subprocess
    import sys

    wh = publish_version(tmp_path, 1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    stale = versions_dir(wh) / f"99991231T235959999999Z-{dead.pid}"  # never made current
    stale.mkdir()
    (stale / "warehouse.duckdb").write_bytes(b"half")
    stale_pointer = versions_dir(wh) / f".CURRENT.tmp-{dead.pid}"
    stale_pointer.write_text("x")
    publish_version(tmp_path, 2)
    assert not stale.exists() and not stale_pointer.exists()
    assert read_fresh(current_version(wh)) == complete(2)


# --- a pool of reader threads whose queries overlap across refreshes ---------------------------

SUPERSET_HOOK = re.search(
    r"```python\n(# superset_config\.py\n.*?)```",
    (ROOT / "docs" / "bi.md").read_text(encoding="utf-8"),
    re.S,
).group(1)


def superset_mutator():
    """The DB_CONNECTION_MUTATOR exactly as docs/bi.md prints it for superset_config.py."""
    namespace: dict = {}
    exec(compile(SUPERSET_HOOK, "docs/bi.md", "exec"), namespace)
    return namespace["DB_CONNECTION_MUTATOR"]


class Reader:
    """One way a long-lived process opens connections: open() -> handle, query(h), close(h)."""

    def __init__(self, kind: str, wh: Path):
        self.kind, self.wh = kind, wh
        if kind == "sqlalchemy pool":
            self.engine = bi.sqlalchemy_engine(wh, pool_size=8, max_overflow=8)
        elif kind == "sqlalchemy nullpool":
            self.engine = bi.sqlalchemy_engine(wh, poolclass=sa.pool.NullPool)
        elif kind == "superset hook":
            self.mutate = superset_mutator()

    def open(self):
        if self.kind == "duckdb":
            return bi.connect(self.wh)
        if self.kind == "stable path":  # what a tool opening warehouse.duckdb itself does
            return duckdb.connect(str(self.wh), read_only=True)
        if self.kind == "superset hook":
            # Superset 6.1: a new engine with NullPool per query, its URI through the mutator
            url = sa.make_url(f"duckdb:///{self.wh}?access_mode=read_only")
            url, params = self.mutate(url, {"poolclass": sa.pool.NullPool}, None, None, None)
            engine = sa.create_engine(url, **params)
            return engine, engine.connect()
        return self.engine.connect()

    def query(self, handle) -> tuple:
        if self.kind in ("duckdb", "stable path"):
            return handle.execute(SQL).fetchone()
        conn = handle[1] if self.kind == "superset hook" else handle
        return tuple(conn.execute(sa.text(SQL)).one())

    def close(self, handle) -> None:
        if self.kind == "superset hook":
            handle[1].close()
            handle[0].dispose()
        else:
            handle.close()

    def dispose(self) -> None:
        if hasattr(self, "engine"):
            self.engine.dispose()


class Pool:
    """Worker threads that each open a new connection, query, and only then close their previous
    one: the process always has open connections on the warehouse, as a busy BI server does.
    `refreshes` counts finished publishes; a worker notes it before opening and the version read.
    The main thread publishes once every worker has queried twice since the last publish."""

    def __init__(self, reader: Reader, threads: int, last_refresh: int):
        self.reader, self.last = reader, last_refresh
        self.refreshes = 0
        self.cond = threading.Condition()
        self.seen: list[list[tuple[int, tuple]]] = [[] for _ in range(threads)]
        self.errors: list[BaseException] = []
        self.workers = [threading.Thread(target=self.work, args=(i,)) for i in range(threads)]

    def work(self, i: int) -> None:
        previous = None
        try:
            for _ in range(1000):  # bounded: the refreshes need a few iterations each
                refreshes_before = self.refreshes
                handle = self.reader.open()
                self.seen[i].append((refreshes_before, self.reader.query(handle)))
                if previous is not None:
                    self.reader.close(previous)
                previous = handle
                with self.cond:
                    self.cond.notify_all()
                done = [r for r, _ in self.seen[i] if r == self.last]
                if len(done) >= 2:
                    break
        except BaseException as exc:  # reported by the main thread
            self.errors.append(exc)
            with self.cond:
                self.cond.notify_all()
        finally:
            if previous is not None:
                self.reader.close(previous)

    def queried_twice_since(self, refreshes: int) -> bool:
        return bool(self.errors) or all(
            sum(r == refreshes for r, _ in seen) >= 2 for seen in self.seen
        )

    def run(self, refresh) -> None:
        for worker in self.workers:
            worker.start()
        for n in range(self.last):
            with self.cond:
                assert self.cond.wait_for(lambda n=n: self.queried_twice_since(n), timeout=300)
            assert not self.errors, self.errors
            refresh(n + 1)  # publishes version n + 2
            self.refreshes = n + 1
        for worker in self.workers:
            worker.join(timeout=300)
            assert not worker.is_alive()
        assert not self.errors, self.errors


@pytest.mark.parametrize(
    "kind", ["duckdb", "sqlalchemy pool", "sqlalchemy nullpool", "superset hook"]
)
def test_overlapping_readers_see_each_refresh(tmp_path, kind):
    wh = publish_version(tmp_path, 1)
    reader = Reader(kind, wh)
    session = reader.open()  # a session opened before the refreshes, kept open throughout
    assert reader.query(session) == complete(1)
    stable = Reader("stable path", wh)
    stable_session = stable.open()  # a tool with warehouse.duckdb itself open in this process
    first_version = current_version(wh)

    pool = Pool(reader, threads=4, last_refresh=2)
    pool.run(lambda n: publish_version(tmp_path, n + 1))

    for seen in pool.seen:
        versions = [result[0] for _, result in seen]
        assert versions == sorted(versions)  # never back to an older warehouse
        for refreshes_before, result in seen:
            assert result == complete(result[0])  # always one complete warehouse
            # opened after refresh n finished: reads version n + 1 or newer
            assert result[0] >= refreshes_before + 1, (refreshes_before, result)
        assert versions[0] == 1 and versions[-1] == 3

    # the session opened before the refreshes still reads the first warehouse, although its
    # version folder has been removed (current + the one before are kept)
    assert reader.query(session) == complete(1)
    assert not first_version.exists()
    reader.close(session)
    reader.dispose()

    # the same process opening warehouse.duckdb by its stable name is served the instance still
    # open for it: the first warehouse. This is what the versions are for.
    again = stable.open()
    assert stable.query(again) == complete(1)
    for handle in (again, stable_session):
        stable.close(handle)
    assert read_fresh(wh) == complete(3)


# --- the Superset export in docs/superset --------------------------------------------------------


@pytest.mark.parametrize(
    "model, yml",
    [("indicator_values", "_marts.yml"), ("county_scorecard", "_scorecard.yml")],
)
def test_superset_datasets_match_the_marts(model, yml):
    """The dataset export has every column of the model (no more), its dates as time columns,
    read-only access to schema warehouse.marts, and the ratio metric as docs/bi.md prints it."""
    import yaml

    export = ROOT / "docs" / "superset" / "ygt_datasets"
    models = yaml.safe_load((ROOT / "models" / "marts" / yml).read_text(encoding="utf-8"))
    columns = next(m for m in models["models"] if m["name"] == model)["columns"]
    (path,) = export.glob(f"datasets/*/{model}_*.yaml")
    dataset = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert sorted(c["column_name"] for c in dataset["columns"]) == sorted(
        c["name"] for c in columns
    )
    assert {c["column_name"] for c in dataset["columns"] if c["is_dttm"]} == {
        "period_start",
        "period_end",
    }
    assert (dataset["schema"], dataset["main_dttm_col"]) == ("warehouse.marts", "period_end")
    (db_file,) = export.glob("databases/*.yaml")
    database = yaml.safe_load(db_file.read_text(encoding="utf-8"))
    assert database["uuid"] == dataset["database_uuid"]
    assert database["sqlalchemy_uri"].endswith("/warehouse.duckdb?access_mode=read_only")
    assert not database["allow_dml"]
    metrics = {m["metric_name"]: m["expression"] for m in dataset["metrics"]}
    assert "avg(value)" not in {e.lower() for e in metrics.values()}
    if model == "indicator_values":
        ratio = "sum(numerator) / nullif(sum(denominator), 0)"
        assert metrics["ratio_of_sums"] == ratio
        assert ratio in (ROOT / "docs" / "bi.md").read_text(encoding="utf-8")
