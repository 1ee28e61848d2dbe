"""How dbt nodes become Dagster assets: one translator for the code location (assets.py) and
the run history (history.py), which must name assets and checks exactly as the assets do
without loading the dbt project."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings


class YgtDbtTranslator(DagsterDbtTranslator):
    """Asset keys follow the DuckDB schemas: `raw/<source>` (= the landing assets),
    `reference/<seed>`, `staging/<model>`, `intermediate/<model>`, `marts/<model>`."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "landing"
        return dbt_resource_props["schema"]


translator = YgtDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

# What a dbt test's result means for its asset check (dbt run_results statuses).
TEST_PASSED = {"pass", "warn"}


def test_check_key(manifest: Mapping[str, Any], unique_id: str) -> dg.AssetCheckKey | None:
    """The asset check a dbt test is in the code location (dagster-dbt's own rule), or None for
    a test that is no check there (a test of a source: sources are not dbt assets)."""
    from dagster_dbt.asset_utils import get_asset_check_key_for_test

    key = get_asset_check_key_for_test(manifest, translator, unique_id, None)
    if key is None:
        return None
    node = manifest["nodes"][unique_id]
    meta = node.get("config", {}).get("meta") or node.get("meta") or {}
    if meta.get("dagster", {}).get("ref"):  # a singular test attached to the model it names
        return key
    attached = node.get("attached_node") or next(iter(node["depends_on"]["nodes"]), "")
    if not attached.startswith(("model.", "seed.", "snapshot.")):
        return None
    return key
