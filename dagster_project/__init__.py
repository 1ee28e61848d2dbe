"""Dagster wiring for the ygt warehouse: assets, checks, jobs, schedules and the landing sensor.

Thin by design: every step calls `orchestration.pipeline` (the same functions `ygt run` calls).
`definitions.py` exposes `defs`; see pyproject.toml [tool.dagster].
"""

from orchestration import settings

settings.quiet_telemetry()  # before Dagster and Great Expectations are imported
