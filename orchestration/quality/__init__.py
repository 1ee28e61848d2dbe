"""Data-quality gates: a check catalogue, validated by Great Expectations inside DuckDB.

`run_raw_gates` after landing, `run_mart_gates` after dbt; results in `raw.dq_results`
(published as `marts.data_quality`, with what was found). A blocking failure stops
publication.
"""

from orchestration.quality.catalog import Check, load_catalog
from orchestration.quality.gates import GateResult, run_mart_gates, run_raw_gates

__all__ = ["Check", "GateResult", "load_catalog", "run_mart_gates", "run_raw_gates"]
