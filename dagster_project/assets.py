"""Assets and asset checks: landing (one per raw source, partitioned by period) -> raw quality
gates -> dbt models -> mart quality gates -> published warehouse.

Every body calls `orchestration.pipeline` — the step functions `ygt run` calls — so Dagster and
the command line land, check, build and publish the same way.

Partitions and dbt: landing assets are partitioned (annual `YYYY`, quarterly `YYYY-MM` =
period `YYYYQn`). The dbt models are deliberately *unpartitioned*: a run for partition 2024Q2
lands 2024Q2, then one dbt build recomputes the heavy intermediate models for the delivery
periods landed since the last build (orchestration/refresh.py) and the small models and marts
in full (roll-ups such as year-to-date need all quarters).
"""

import json
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration import contract, pipeline
from orchestration.periods import period_of_partition_key

from .keys import (
    DQ_RESULTS_KEY,
    HEADLINE_MART,
    LOAD_AUDIT_KEY,
    MART_GATE,
    PUBLISHED_KEY,
    RAW_GATE,
    landing_key,
)
from .logs import forwarded
from .partitions import partitions_for
from .resources import DUCKDB_POOL, YgtPaths, dbt_project, ensure_manifest
from .translator import translator

# ── landing ────────────────────────────────────────────────────────────────────────────────


class LandingConfig(dg.Config):
    force: bool = False  # re-land even if the delivery's fingerprint is unchanged


def _periods(context) -> set[str]:
    try:
        return {period_of_partition_key(k) for k in context.partition_keys}
    except ValueError as exc:  # e.g. `2024-05`: not the first month of a quarter
        raise dg.Failure(description=str(exc), allow_retries=False) from None


@contextmanager
def _run_lock(context, ygt: YgtPaths) -> Iterator[None]:
    """The warehouse's run lock (orchestration/runlock.py) for one step: a concurrent `ygt run`
    is told which Dagster run holds it, and this step waits for a `ygt run` in progress. ygt's
    messages reach the step's log meanwhile (logs.forwarded)."""
    from orchestration import runlock

    with (
        forwarded(context),
        runlock.hold(
            ygt.work_db(),
            wait=True,
            progress=context.log.warning,
            command=f"dagster run {context.op_execution_context.run_id}",
        ),
    ):
        yield


def _landing_asset(source: contract.Source) -> dg.AssetsDefinition:
    with warnings.catch_warnings():  # BackfillPolicy is "beta" in 1.13; it is what we want
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _define_landing_asset(source)


def _define_landing_asset(source: contract.Source) -> dg.AssetsDefinition:
    @dg.asset(
        key=landing_key(source.name),
        partitions_def=partitions_for(source),
        # A backfill over several periods is one run (one land call, one dbt build).
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=DUCKDB_POOL,
        group_name="landing",
        kinds={"python", "duckdb"},
        description=(
            f"{source.doc}. Lands <landing>/{source.name}/<period>/ into raw.{source.name} "
            f"({source.frequency}; quarantine and load audit included) via pipeline.land_step."
        ),
        metadata={"frequency": source.frequency, "staging_model": source.staging_model},
    )
    def _land(context: dg.AssetExecutionContext, config: LandingConfig, ygt: YgtPaths):
        periods = _periods(context)
        with _run_lock(context, ygt):
            report = pipeline.land_step(
                ygt.landing_path(),
                ygt.work_db(),
                periods,
                force=config.force,
                sources={source.name},
            )
            pipeline.log_landing(report)
        files = [f for d in report.deliveries if d.status == "landed" for f in d.files]
        if files:
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=LOAD_AUDIT_KEY,
                    metadata={"source": source.name, "files": len(files)},
                )
            )
        return dg.MaterializeResult(
            metadata={
                "periods": ", ".join(sorted(periods)),
                "landing": str(ygt.landing_path()),
                "work_db": str(ygt.work_db()),
                "summary": dg.MetadataValue.md(f"```\n{report.summary()}\n```"),
            }
        )

    _land.__name__ = f"land_{source.name}"
    return _land


landing_assets = [_landing_asset(s) for s in contract.SOURCES]

# Raw tables the loader and the gates write beside the landed sources; dbt reads them as the
# sources raw.load_audit (marts.load_audit) and raw.dq_results (marts.data_quality).
RAW_TABLE_SPECS = [
    dg.AssetSpec(
        LOAD_AUDIT_KEY,
        group_name="landing",
        kinds={"duckdb"},
        description="One row per landed file: rows read, loaded, quarantined, duplicate, "
        "status and message. Written by every landing asset (and `ygt run`).",
    ),
    dg.AssetSpec(
        DQ_RESULTS_KEY,
        group_name="quality",
        kinds={"duckdb"},
        description="One row per quality check x source x period, raw and mart stage. "
        "Written by the raw and mart quality gates (and `ygt run`); marts.data_quality is a "
        "view over it.",
    ),
]
LANDING_KEYS = [landing_key(s.name) for s in contract.SOURCES]


# ── raw quality gates ──────────────────────────────────────────────────────────────────────


def _rows_for(rows, source: str) -> list[dict]:
    return [r for r in rows if r.get("source") == source]


def _table(rows: list[dict], limit: int = 20) -> str:
    if not rows:
        return "none"
    keys = [k for k in ("check_id", "source", "period", "rows_failed", "message") if k in rows[0]]
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows[:limit]:
        out.append("| " + " | ".join(str(r.get(k, "")) for k in keys) + " |")
    if len(rows) > limit:
        out.append(f"\n… {len(rows) - limit} more in raw.dq_results")
    return "\n".join(out)


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            RAW_GATE,
            asset=k,
            blocking=True,
            description="Great Expectations conformance/completeness gates for this source and "
            "the run's periods (orchestration.quality.run_raw_gates). A blocking failure stops "
            "dbt and publication in the same run.",
        )
        for k in LANDING_KEYS
    ],
    can_subset=True,
    pool=DUCKDB_POOL,  # writes raw.dq_results
    name=RAW_GATE,
)
def raw_quality_gates(
    context: dg.AssetCheckExecutionContext, ygt: YgtPaths
) -> Iterator[dg.AssetCheckResult]:
    """One gate run for every landed source in this run; one result per landing asset."""
    periods = _periods(context) if context.has_partition_key else None
    with _run_lock(context, ygt):
        gates = pipeline.raw_gate_step(ygt.work_db(), periods)
        pipeline.log_gates(gates)
    _log_dq_results(context, gates)
    for check_key in sorted(
        context.selected_asset_check_keys, key=lambda k: k.asset_key.to_user_string()
    ):
        source = check_key.asset_key.path[-1]
        failures = _rows_for(gates.blocking_failures, source)
        warnings = _rows_for(gates.warnings, source)
        yield dg.AssetCheckResult(
            asset_key=check_key.asset_key,
            check_name=RAW_GATE,
            passed=not failures,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "periods": ", ".join(sorted(periods)) if periods else "all",
                "blocking_failures": len(failures),
                "warnings": len(warnings),
                "failed_checks": dg.MetadataValue.md(_table(failures)),
                "warning_checks": dg.MetadataValue.md(_table(warnings)),
            },
        )


def _log_dq_results(context: dg.AssetCheckExecutionContext, gates) -> None:
    context.op_execution_context.log_event(
        dg.AssetMaterialization(
            asset_key=DQ_RESULTS_KEY,
            metadata={
                "stage": gates.stage,
                "results": len(gates.rows),
                "blocking_failures": len(gates.blocking_failures),
                "warnings": len(gates.warnings),
            },
        )
    )


# ── dbt ────────────────────────────────────────────────────────────────────────────────────


MANIFEST = ensure_manifest()


@contextmanager
def _environ(extra: Mapping[str, str]) -> Iterator[None]:
    """dagster-dbt passes os.environ to the dbt process; add ygt's dbt env for this call."""
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update({k: str(v) for k, v in extra.items()})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def dbt_invocation(work_db: Path, plan: pipeline.DbtBuildPlan) -> tuple[list[str], dict[str, str]]:
    """The `dbt build` arguments and environment of `plan` (pipeline.planned_dbt_build, ygt
    run's way), with ygt's dbt environment and vars."""
    from orchestration import dbt as ygt_dbt

    # dbt_env returns the full environment for a subprocess; keep only what it adds or changes
    env = {k: v for k, v in ygt_dbt.dbt_env(work_db).items() if os.environ.get(k) != v}
    env.update(plan.env)
    args = ["build", *plan.extra_args]
    vars_ = ygt_dbt.dbt_vars()
    if vars_:
        args += ["--vars", json.dumps(vars_)]
    return args, env


@dbt_assets(
    manifest=MANIFEST,
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool=DUCKDB_POOL,
    name="ygt_dbt_models",
)
def ygt_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, ygt: YgtPaths):
    """`dbt build` (seeds, models, tests) over the working database. Unpartitioned: the heavy
    intermediate models recompute only the delivery periods landed since the last successful
    build (incremental refresh), everything else from raw. dbt tests become asset checks;
    error-severity tests block."""
    work_db = ygt.work_db()
    # the plan, skip, description and record of `ygt run`'s dbt step (pipeline.planned_dbt_build)
    with (
        _run_lock(context, ygt),
        pipeline.planned_dbt_build(work_db, True) as plan,
    ):
        if plan is None:
            # No-op refresh: every model is current. Report the marts (what the gates and the
            # publish step wait for) as unchanged instead of rebuilding ~300 dbt nodes.
            marts = [k for k in context.selected_asset_keys if k.path[0] == "marts"]
            for key in _topological(context.assets_def, marts):  # Dagster requires this order
                yield dg.MaterializeResult(
                    asset_key=key,
                    metadata={"dbt": "skipped: nothing landed since the last successful build"},
                )
            yield from _skipped_checks(context)
            return
        args, env = dbt_invocation(work_db, plan)
        with _environ(env):
            invocation = dbt.cli(args, context=context)
            yield from invocation.stream()
        plan.succeeded = invocation.is_successful()


def _skipped_checks(context: dg.AssetExecutionContext) -> Iterator[dg.AssetCheckResult]:
    """The dbt tests of a skipped build, reported as not run: each check repeats its latest
    evaluation (the models it tests are unchanged since), marked skipped. Without a result
    Dagster logs a warning per blocking check for every step downstream."""
    for key in sorted(context.selected_asset_check_keys, key=lambda k: k.to_user_string()):
        failed = _latest_gate_failed(context.instance, key)
        yield dg.AssetCheckResult(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=not failed,
            severity=dg.AssetCheckSeverity.WARN if failed else dg.AssetCheckSeverity.ERROR,
            metadata={
                "dbt": "skipped: nothing landed since the last successful build; the latest "
                "result stands",
                "latest": "never run" if failed is None else ("failed" if failed else "passed"),
            },
        )


def _topological(assets_def: dg.AssetsDefinition, keys: list[dg.AssetKey]) -> list[dg.AssetKey]:
    """`keys` ordered so that every asset comes after those of `keys` it depends on."""
    deps = {spec.key: {d.asset_key for d in spec.deps} for spec in assets_def.specs}
    wanted, done, order = set(keys), set(), []

    def visit(key: dg.AssetKey) -> None:
        if key in done:
            return
        done.add(key)
        for upstream in sorted(deps.get(key, ()) & wanted, key=lambda k: k.to_user_string()):
            visit(upstream)
        order.append(key)

    for key in sorted(keys, key=lambda k: k.to_user_string()):
        visit(key)
    return order


def _dbt_keys(schema: str | None = None) -> list[dg.AssetKey]:
    return sorted(
        (k for k in ygt_dbt_models.keys if schema is None or k.path[0] == schema),
        key=lambda k: k.to_user_string(),
    )


DBT_KEYS = _dbt_keys()
MART_KEYS = _dbt_keys("marts")
# The mart gate is attached to the headline mart (indicator_values) and waits for every mart.
GATED_MART = HEADLINE_MART if HEADLINE_MART in MART_KEYS else (MART_KEYS or DBT_KEYS)[0]

# ── mart quality gates ─────────────────────────────────────────────────────────────────────


@dg.asset_check(
    asset=GATED_MART,
    name=MART_GATE,
    blocking=True,
    additional_deps=[k for k in MART_KEYS if k != GATED_MART],
    pool=DUCKDB_POOL,  # writes raw.dq_results
    description="Great Expectations plausibility/completeness gates over every mart "
    "(orchestration.quality.run_mart_gates). A blocking failure stops publication.",
)
def mart_quality_gates(
    context: dg.AssetCheckExecutionContext, ygt: YgtPaths
) -> dg.AssetCheckResult:
    with _run_lock(context, ygt):
        gates = pipeline.mart_gate_step(ygt.work_db())
        pipeline.log_gates(gates)
    _log_dq_results(context, gates)
    return dg.AssetCheckResult(
        passed=not gates.blocking_failures,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "blocking_failures": len(gates.blocking_failures),
            "warnings": len(gates.warnings),
            "failed_checks": dg.MetadataValue.md(_table(list(gates.blocking_failures))),
            "warning_checks": dg.MetadataValue.md(_table(list(gates.warnings))),
        },
    )


# ── publish ────────────────────────────────────────────────────────────────────────────────


def _latest_gate_failed(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> bool | None:
    """True/False for the latest *completed* evaluation of a check, None if it never completed
    (runs waiting in the queue record their checks as planned; those are skipped)."""
    from dagster._core.storage.asset_check_execution_record import (
        AssetCheckExecutionRecordStatus as S,
    )

    history = instance.event_log_storage.get_asset_check_execution_history(
        key, limit=1, status={S.SUCCEEDED, S.FAILED}
    )
    if not history:
        return None
    return history[0].status == S.FAILED


@dg.asset(
    key=PUBLISHED_KEY,
    deps=MART_KEYS or DBT_KEYS,
    pool=DUCKDB_POOL,  # reads the working database while nothing writes it
    group_name="publish",
    kinds={"duckdb"},
    description="The warehouse file BI tools read: schema marts copied from the working "
    "database and swapped in atomically (pipeline.publish_step). Never runs after a failed "
    "blocking check in the same run; the previous file then stays in place.",
)
def published_warehouse(context: dg.AssetExecutionContext, ygt: YgtPaths) -> dg.MaterializeResult:
    _refuse_unless_gates_passed(context, ygt)
    with _run_lock(context, ygt):
        result = pipeline.publish_step(ygt.work_db(), ygt.warehouse_path(), gates=[])
        outputs = pipeline.outputs_step(ygt.warehouse_path(), ygt.work_db())
    return dg.MaterializeResult(
        metadata={
            **{name: str(path) for name, path in outputs.items()},
            "warehouse": str(result.warehouse),
            "bytes": result.bytes,
            "tables": len(result.tables),
            "rows": sum(result.tables.values()),
            "table_rows": dg.MetadataValue.json(result.tables),
        }
    )


def _refuse_unless_gates_passed(context: dg.AssetExecutionContext, ygt: YgtPaths) -> None:
    """Belt and braces. In a run that lands and builds, Dagster's blocking checks already stop
    this step when a gate fails (as `ygt run` refuses to publish). Materialised on its own, the
    step looks at the latest evaluations: the mart gate must have run and passed, and no
    landing asset's latest raw gate may have failed."""
    instance = context.instance
    problems = []
    mart_gate = dg.AssetCheckKey(GATED_MART, MART_GATE)
    state = _latest_gate_failed(instance, mart_gate)
    if state is not False:
        problems.append(
            f"{MART_GATE} on {GATED_MART.to_user_string()} {'failed' if state else 'has not run'}"
        )
    for key in LANDING_KEYS:
        if _latest_gate_failed(instance, dg.AssetCheckKey(key, RAW_GATE)):
            problems.append(f"{RAW_GATE} on {key.to_user_string()} failed")
    if problems:
        raise pipeline.PublicationRefused(
            "not published: "
            + "; ".join(problems)
            + ". "
            + pipeline.previous_warehouse_note(ygt.warehouse_path())
            + " Re-deliver or fix the data and run again (details in raw.dq_results and the "
            "check results)."
        )
