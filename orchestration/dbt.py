"""How ygt invokes dbt (`ygt run`, pipeline.dbt_step); the Dagster assets run dbt through
dagster-dbt's `DbtCliResource` with the same vars and environment (`dbt_env`, `dbt_vars`).

- `dbt_env(work_db)`: the environment dbt needs (the DuckDB file, the profiles folder).
- `dbt_vars(overrides)`: the `--vars` to pass; the defaults live in `dbt_project.yml` (`vars:`),
  a province overrides them with `YGT_DBT_VARS` (a JSON object) or `overrides`.
- `run_dbt(args, work_db)`: runs dbt's command line (`dbt.cli.main`) in a subprocess (a clean
  process per run: no global dbt state left in the caller, the caller's DuckDB connections are
  untouched, and the environment is explicit). dbt writes its structured events
  (`--log-format json`); `DbtEvents` turns them into messages of the `ygt.dbt` logger: a line
  per tenth of the nodes finished, every node that failed or warned, dbt's errors and its
  closing tally. Raises `DbtError` naming the failing nodes.
- `build(work_db, select=None, vars=None, extra_args=None)`: `dbt build` — seeds, models,
  unit tests, data tests.
- `render_sources_yml()`: `models/staging/_sources.yml` rendered from `contract.py`
  (`ygt contract --dbt-sources`; a test asserts the committed file equals this).
- `create_empty_raw_schema(con)`: raw tables exactly as the loader makes them, empty — for
  tests and for `dbt parse`/`build` on a fresh database.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from orchestration import contract, settings
from orchestration.land import AUDIT_COLUMNS, create_raw_schema
from orchestration.quality.gates import RESULT_COLUMNS as DQ_RESULT_COLUMNS
from orchestration.settings import PROJECT_DIR, memory_limit

LOG = logging.getLogger("ygt.dbt")
DBT_MAIN = "from dbt.cli.main import cli; cli()"


class DbtError(RuntimeError):
    """dbt failed; `failed_nodes` names the models/tests/seeds that errored or failed."""

    def __init__(self, message: str, failed_nodes: list[str] | None = None, output: str = ""):
        super().__init__(message)
        self.failed_nodes = failed_nodes or []
        self.output = output


@dataclass
class DbtResult:
    args: list[str]
    returncode: int
    seconds: float
    output: str
    results: list[dict] = field(default_factory=list)  # run_results.json "results"

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.get("status", "?")] = out.get(r.get("status", "?"), 0) + 1
        return out


def dbt_env(work_db: Path) -> dict[str, str]:
    """Environment for a dbt call on the working database `work_db`."""
    env = dict(os.environ)
    settings.quiet_telemetry(env)
    env["YGT_DUCKDB_PATH"] = str(Path(work_db).resolve())
    env["YGT_DUCKDB_MEMORY_LIMIT"] = memory_limit()
    env["DBT_PROFILES_DIR"] = str(PROJECT_DIR)
    return env


def dbt_vars(overrides: Mapping | None = None) -> dict:
    """Vars for `--vars`: empty means "the defaults of dbt_project.yml".

    `YGT_DBT_VARS` (a JSON object, e.g. '{"min_dispatch_days": 183}') and then `overrides`
    replace individual defaults — the way a province changes a parameter without editing SQL.
    """
    out = settings.dbt_var_overrides()
    if overrides:
        out.update(overrides)
    return out


def _failed_nodes(results: list[dict]) -> list[str]:
    bad = {"error", "fail", "runtime error"}
    return [r.get("unique_id", "?") for r in results if str(r.get("status", "")).lower() in bad]


def _read_run_results(target: Path, since: float) -> list[dict]:
    path = target / "run_results.json"
    if not path.exists() or path.stat().st_mtime < since:
        return []
    try:
        return json.loads(path.read_text()).get("results", [])
    except (OSError, ValueError):
        return []


# Node states of dbt's events (node_info.node_status) that say a node is finished, and those of
# them that need a person.
RUNNING = {"", "None", "started", "compiling", "executing"}
PROBLEM = {"error", "fail", "warn", "runtime error"}
# error-level events that repeat what a node's own result already said
REPEATS = {"RunResultFailure", "RunResultWarning"}


class DbtEvents:
    """dbt's JSON log lines (one event a line: `info.name`, `info.level`, `info.msg`, `data`)
    as messages of the `ygt.dbt` logger; `text` keeps what dbt would have printed."""

    def __init__(self):
        self.done = 0
        self.tenth = -1
        self.text: list[str] = []

    def feed(self, line: str) -> None:
        try:
            event = json.loads(line)
            info, data = event["info"], event.get("data") or {}
        except (ValueError, KeyError, TypeError):  # not an event: dbt failed before logging
            self.text.append(line)
            if line.strip():
                LOG.debug(f"   dbt {line.strip()}")
            return
        msg = str(info.get("msg") or "")
        self.text.append(msg)
        name, level = info.get("name", ""), info.get("level", "")
        status = str((data.get("node_info") or {}).get("node_status", ""))
        total = data.get("total") or data.get("num_models")
        if "index" in data and total and status not in RUNNING:
            self._node(msg, status, int(total))
        elif name == "StatsLine":  # "Done. PASS=… WARN=… ERROR=…": the closing tally
            stats = data.get("stats") or {}
            bad = stats.get("error") or stats.get("warn")
            LOG.log(logging.WARNING if bad else logging.INFO, f"   dbt {msg}")
        elif name == "FinishedRunningStats":
            LOG.debug(f"   dbt {msg}")
        elif level in ("warn", "error") and name not in REPEATS:
            LOG.warning(f"   dbt {_first_line(msg)}")

    def _node(self, msg: str, status: str, total: int) -> None:
        self.done += 1
        counts = {"done": self.done, "total": total}
        if status.lower() in PROBLEM:
            LOG.warning(f"   dbt {msg}", extra=counts)
        elif self.done * 10 // total > self.tenth:
            self.tenth = self.done * 10 // total
            LOG.debug(f"   dbt {self.done}/{total} nodes", extra=counts)


def _first_line(msg: str) -> str:
    """The head of a multi-line dbt error ("Database Error in model x (path)"); the rest can
    quote the data and stays in the output kept with DbtError."""
    lines = [line.strip() for line in msg.splitlines() if line.strip()]
    if not lines:
        return ""
    return " ".join(lines[:2]) if lines[0].endswith(":") else lines[0]


def run_dbt(
    args: list[str],
    work_db: Path,
    vars: Mapping | None = None,
    env: Mapping[str, str] | None = None,
) -> DbtResult:
    """Run one dbt command (`args` without the leading `dbt`) on `work_db`, with `env` added to
    its environment; its events are logged (`DbtEvents`).

    Raises `DbtError` with the failing node names when dbt exits non-zero.
    """
    args = list(args)
    merged = dbt_vars(vars)
    if merged and "--vars" not in args:
        args += ["--vars", json.dumps(merged)]
    if "--project-dir" not in args:
        args += ["--project-dir", str(PROJECT_DIR)]
    if "--target-path" not in args:
        args += ["--target-path", str(settings.dbt_target_for(work_db))]
    if "--log-format" not in args:
        args += ["--log-format", "json", "--no-use-colors"]
    target = Path(args[args.index("--target-path") + 1])
    # dbt's entry point called, not `-m dbt.cli.main`: runpy warns that the package had
    # already imported that module
    cmd = [sys.executable, "-c", DBT_MAIN, *args]
    t0 = time.time()
    proc = subprocess.Popen(
        cmd,
        cwd=PROJECT_DIR,
        env={**dbt_env(work_db), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    events = DbtEvents()
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            events.feed(line.rstrip("\n"))
    except BaseException:  # Ctrl-C (or the caller's own stop): never leave dbt running behind
        _stop(proc)
        raise
    rc = proc.wait()
    output = "\n".join(events.text) + "\n"
    results = _read_run_results(target, t0)
    result = DbtResult(
        args=args, returncode=rc, seconds=time.time() - t0, output=output, results=results
    )
    if rc != 0:
        failed = _failed_nodes(results)
        tail = "\n".join(output.splitlines()[-40:])
        where = (
            ("failing nodes: " + ", ".join(failed)) if failed else "no node results (see output)"
        )
        raise DbtError(
            f"dbt {args[0]} failed (exit {rc}) on {work_db}; {where}.\n--- dbt output (tail) ---\n{tail}",
            failed,
            output,
        )
    return result


def _stop(proc: subprocess.Popen) -> None:
    """End a dbt process: SIGTERM, then SIGKILL if it has not gone within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def build(
    work_db: Path,
    select: str | list[str] | None = None,
    vars: Mapping | None = None,
    extra_args: list[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> DbtResult:
    """`dbt build`: seeds, models, unit tests and data tests, in DAG order (unit tests run
    after their model's parents exist and before the model). `extra_args` such as
    `--full-refresh` are passed on."""
    args = ["build", *(extra_args or [])]
    if select:
        args += ["--select", *([select] if isinstance(select, str) else select)]
    return run_dbt(args, work_db, vars=vars, env=env)


# --------------------------------------------------------------------------- sources


class _SourcesDumper(yaml.SafeDumper):
    """Block style with list items indented under their key, as dbt's own YAML files are."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


def _columns(columns) -> list[dict]:
    return [{"name": name, "data_type": dtype} for name, dtype in columns]


SOURCES_YML_HEADER = """\
# GENERATED from orchestration/contract.py by orchestration.dbt.render_sources_yml()
# (`ygt contract --dbt-sources`). Do not edit by hand: tests/python/test_dbt_models.py
# fails when this file differs from the rendered one.
"""


def render_sources_yml() -> str:
    """`models/staging/_sources.yml`, rendered from the raw contract (one definition) and
    written with PyYAML."""
    tables = [
        {
            "name": source.name,
            "description": source.doc,
            "config": {
                "meta": {
                    "frequency": source.frequency,
                    "staging_model": source.staging_model,
                    "natural_key": list(source.natural_key),
                }
            },
            "columns": _columns(contract.raw_columns(source)),
        }
        for source in contract.SOURCES
    ]
    tables += [
        {
            "name": "load_audit",
            "description": "one row per landed file, written by the loader (row conservation)",
            "columns": _columns(AUDIT_COLUMNS),  # raw.load_audit is written by the loader
        },
        {
            "name": "dq_results",
            "description": "one row per quality check x source x period, written by the quality gates",
            "columns": _columns(DQ_RESULT_COLUMNS),
        },
    ]
    doc = {
        "version": 2,
        "sources": [
            {
                "name": "raw",
                "schema": "raw",
                "description": "Landed deliveries, typed and pseudonymised by the loader "
                "(docs/architecture.md).",
                "tables": tables,
            }
        ],
    }
    body = yaml.dump(doc, Dumper=_SourcesDumper, sort_keys=False, allow_unicode=True, width=100)
    return SOURCES_YML_HEADER + body


def sources_yml_path() -> Path:
    return PROJECT_DIR / "models" / "staging" / "_sources.yml"


def write_sources_yml() -> Path:
    path = sources_yml_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_sources_yml(), encoding="utf-8")
    return path


def create_empty_raw_schema(con) -> None:
    """Create every raw table the dbt sources name, empty, if missing: the loader's own tables
    (land.create_raw_schema) and raw.dq_results. For tests and fresh databases."""
    create_raw_schema(con)
    body = ", ".join(f'"{c}" {t}' for c, t in DQ_RESULT_COLUMNS)
    con.execute(f"create table if not exists raw.dq_results ({body})")
