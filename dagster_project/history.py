"""What `ygt run` / `ygt demo` did, recorded in the project's Dagster instance so the UI shows it.

`ygt run` does not go through Dagster (it needs no daemon and no webserver); after a
successful publish it reports, as run-less asset events (`report_runless_asset_event`), the
landing partitions it landed (and raw/load_audit), every dbt model and seed its build
materialised with the result of every dbt test as its asset check, the raw and mart gate
evaluations (and raw/dq_results) and the published warehouse — under the same asset keys and
check names as the Dagster assets (keys.py, and translator.py for dbt's nodes), without
importing assets.py (that would parse the dbt project).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg

from orchestration import settings
from orchestration.periods import partition_key_of

from . import keys
from .translator import translator

BUILT = {"success", "pass"}


def _manifest(work_db: Path) -> dict:
    """The manifest of the last build (dbt's target folder beside the working database)."""
    return json.loads((settings.dbt_target_for(work_db) / "manifest.json").read_text())


def _dbt_keys(dbt_result, manifest: dict) -> list[dg.AssetKey]:
    """Asset keys (the code location's translator's) of the models and seeds built."""
    if dbt_result is None:
        return []
    keys = []
    for r in dbt_result.results:
        node = manifest["nodes"].get(r.get("unique_id", ""))
        built = node and node["resource_type"] in ("model", "seed", "snapshot")
        if built and r.get("status") in BUILT:
            keys.append(translator.get_asset_key(node))
    return keys


def _dbt_checks(dbt_result, manifest: dict, tag: dict) -> list[dg.AssetCheckEvaluation]:
    """Every dbt test the build ran, as the evaluation of its asset check (the check names and
    assets of dagster-dbt, through the code location's translator): passed for `pass` and
    `warn`, failed otherwise; a `warn`-severity test is a warning check."""
    from .translator import TEST_PASSED, test_check_key

    if dbt_result is None:
        return []
    out = []
    for r in dbt_result.results:
        uid = r.get("unique_id", "")
        if not uid.startswith("test.") or r.get("status") == "skipped":
            continue
        key = test_check_key(manifest, uid)
        if key is None:
            continue
        node = manifest["nodes"][uid]
        warn = str(node.get("config", {}).get("severity", "error")).lower() == "warn"
        out.append(
            dg.AssetCheckEvaluation(
                asset_key=key.asset_key,
                check_name=key.name,
                passed=r.get("status") in TEST_PASSED,
                severity=dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR,
                metadata={
                    **tag,
                    "status": r.get("status"),
                    "failures": r.get("failures") or 0,
                    "dbt_test": uid,
                },
            )
        )
    return out


def record_run(result, instance: dg.DagsterInstance | None = None) -> Path:
    """Report a successful pipeline.RunResult to the instance; returns its DAGSTER_HOME."""
    home = settings.dagster_home()
    if instance is None:
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists():  # one writer per pool, as in the project's
            shutil.copy(settings.PROJECT_DIR / ".dagster" / "dagster.yaml", home / "dagster.yaml")
        instance = dg.DagsterInstance.from_config(str(home))
    report = instance.report_runless_asset_event
    tag = {"recorded_by": "ygt run", "warehouse": str(result.warehouse)}
    landed = [d for d in result.landing.deliveries if d.status == "landed"]
    for d in landed:
        rows = sum(f.rows_loaded for f in d.files)
        report(
            dg.AssetMaterialization(
                asset_key=keys.landing_key(d.source),
                partition=partition_key_of(d.period),
                metadata={**tag, "period": d.period, "files": len(d.files), "rows_loaded": rows},
            )
        )
    for source in sorted({d.source for d in result.landing.deliveries}):
        failed = [r for r in result.raw_gates.blocking_failures if r.get("source") == source]
        warned = [r for r in result.raw_gates.warnings if r.get("source") == source]
        report(
            dg.AssetCheckEvaluation(
                asset_key=keys.landing_key(source),
                check_name=keys.RAW_GATE,
                passed=not failed,
                metadata={**tag, "blocking_failures": len(failed), "warnings": len(warned)},
            )
        )
    if landed:  # the loader's per-file audit, written with every delivery landed
        files = [f for d in landed for f in d.files]
        report(
            dg.AssetMaterialization(
                asset_key=keys.LOAD_AUDIT_KEY,
                metadata={
                    **tag,
                    "files": len(files),
                    "rows_read": sum(f.rows_read for f in files),
                    "rows_quarantined": sum(f.rows_quarantined for f in files),
                },
            )
        )
    manifest = _manifest(result.work_db) if result.dbt is not None else {}
    for key in _dbt_keys(result.dbt, manifest):
        report(dg.AssetMaterialization(asset_key=key, metadata=tag))
    for evaluation in _dbt_checks(result.dbt, manifest, tag):
        report(evaluation)
    gates = result.mart_gates
    report(
        dg.AssetCheckEvaluation(
            asset_key=keys.HEADLINE_MART,
            check_name=keys.MART_GATE,
            passed=not gates.blocking_failures,
            metadata={
                **tag,
                "blocking_failures": len(gates.blocking_failures),
                "warnings": len(gates.warnings),
            },
        )
    )
    gate_rows = [*result.raw_gates.rows, *gates.rows]
    report(  # the gates' results, raw and mart stage
        dg.AssetMaterialization(
            asset_key=keys.DQ_RESULTS_KEY,
            metadata={
                **tag,
                "results": len(gate_rows),
                "blocking_failures": len(result.raw_gates.blocking_failures)
                + len(gates.blocking_failures),
                "warnings": len(result.raw_gates.warnings) + len(gates.warnings),
            },
        )
    )
    pub = result.published
    report(
        dg.AssetMaterialization(
            asset_key=keys.PUBLISHED_KEY,
            metadata={
                **tag,
                "bytes": pub.bytes,
                "tables": len(pub.tables),
                "rows": sum(pub.tables.values()),
                "dbt": "built" if result.dbt is not None else "skipped (nothing new)",
            },
        )
    )
    return home
