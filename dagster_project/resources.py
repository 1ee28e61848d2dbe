"""Where the landing folder and the warehouse are (env vars with defaults) and the dbt project.

YGT_LANDING (default demo/landing) and YGT_WAREHOUSE (default demo/warehouse.duckdb); relative
paths are taken from the repository root. The working database is
`orchestration.settings.work_db_for(warehouse)` — the same one `ygt run` uses.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

from orchestration import settings

# Every asset or check that writes the working DuckDB file uses this pool; dagster.yaml limits
# each pool to one slot because DuckDB allows a single writer per file.
DUCKDB_POOL = "ygt_duckdb"


def _from_root(path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else settings.PROJECT_DIR / p


class YgtPaths(dg.ConfigurableResource):
    """The landing folder read and the warehouse file published."""

    landing: str = settings.DEFAULT_LANDING
    warehouse: str = settings.DEFAULT_WAREHOUSE

    @classmethod
    def from_env(cls) -> YgtPaths:
        landing, warehouse = settings.dagster_paths()
        return cls(landing=landing, warehouse=warehouse)

    def landing_path(self) -> Path:
        return _from_root(self.landing)

    def warehouse_path(self) -> Path:
        return _from_root(self.warehouse).resolve()

    def work_db(self) -> Path:
        return settings.work_db_for(self.warehouse_path())


dbt_project = DbtProject(project_dir=settings.PROJECT_DIR, profiles_dir=settings.PROJECT_DIR)


def _manifest_is_stale() -> bool:
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in settings.DBT_MANIFEST_INPUTS:
        p = settings.PROJECT_DIR / name
        files = [p] if p.is_file() else (p.rglob("*") if p.is_dir() else [])
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def _dbt_on_path() -> None:
    """dagster-dbt runs `dbt` from PATH; without an activated venv use the one beside Python."""
    if shutil.which("dbt") is None and (Path(sys.executable).parent / "dbt").exists():
        os.environ["PATH"] = (
            f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        )


def ensure_manifest() -> Path:
    """Make sure target/manifest.json exists and matches the dbt sources.

    Under `dagster dev` `prepare_if_dev()` re-parses on every load. Elsewhere (tests, CI,
    `dagster definitions validate`, a fresh clone) `dbt parse` runs when the manifest is missing
    or older than any model, seed, macro or dbt config file — a few seconds, once.
    """
    _dbt_on_path()
    dbt_project.prepare_if_dev()
    if _manifest_is_stale():
        dbt_project.preparer.prepare(dbt_project)
    return dbt_project.manifest_path


def dbt_resource() -> DbtCliResource:
    _dbt_on_path()
    return DbtCliResource(project_dir=dbt_project, profiles_dir=str(settings.PROJECT_DIR))
