"""The asset keys and check names of the code location, declared once: assets.py declares its
assets and checks under them and history.py reports what `ygt run` did under them (history.py
must not import assets.py, which parses the dbt project). dbt's models and seeds are named by
the translator (translator.py), for both as well."""

import dagster as dg


def landing_key(source: str) -> dg.AssetKey:
    """`raw/<source>`: the landing asset, also the key dbt's `source('raw', <source>)` maps to."""
    return dg.AssetKey(["raw", source])


# Raw tables the loader and the gates write beside the landed sources.
LOAD_AUDIT_KEY = dg.AssetKey(["raw", "load_audit"])
DQ_RESULTS_KEY = dg.AssetKey(["raw", "dq_results"])
# The quality gates: a check on every landing asset, and one on the headline mart.
RAW_GATE = "raw_quality_gates"
MART_GATE = "mart_quality_gates"
HEADLINE_MART = dg.AssetKey(["marts", "indicator_values"])
PUBLISHED_KEY = dg.AssetKey(["published_warehouse"])
