"""`defs`: the Dagster code location of the ygt warehouse (pyproject [tool.dagster]).

Open the UI from the repository root with the venv active: `DAGSTER_HOME=$PWD/.dagster dg dev`
(pyproject [tool.dg]). Paths come from YGT_LANDING (default demo/landing) and YGT_WAREHOUSE
(default demo/warehouse.duckdb).
"""

from __future__ import annotations

import dagster as dg

from . import cli_errors
from .assets import (
    RAW_TABLE_SPECS,
    landing_assets,
    mart_quality_gates,
    published_warehouse,
    raw_quality_gates,
    ygt_dbt_models,
)
from .automation import (
    annual_refresh,
    annual_refresh_schedule,
    landing_sensor,
    quarterly_refresh,
    quarterly_refresh_schedule,
    rebuild_warehouse,
)
from .resources import YgtPaths, dbt_resource

cli_errors.install()  # `dg launch --partition <unknown key>`: one message, not a traceback


def build_defs(paths: YgtPaths | None = None) -> dg.Definitions:
    """The code location; tests pass their own landing folder and warehouse."""
    return dg.Definitions(
        assets=[*landing_assets, *RAW_TABLE_SPECS, ygt_dbt_models, published_warehouse],
        asset_checks=[raw_quality_gates, mart_quality_gates],
        jobs=[annual_refresh, quarterly_refresh, rebuild_warehouse],
        schedules=[quarterly_refresh_schedule, annual_refresh_schedule],
        sensors=[landing_sensor],
        resources={"ygt": paths or YgtPaths.from_env(), "dbt": dbt_resource()},
        # Steps run one after another in the run's process: DuckDB takes one writer, so a step
        # per subprocess would only add start-up time. The pool still serialises across runs.
        executor=dg.in_process_executor,
    )


defs = build_defs()
