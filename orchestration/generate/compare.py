"""Compare a warehouse's county values with the generator's ground truth.

The ground truth (`ground_truth/indicators.csv`) is computed by the generator in pandas from the
records it generated; this compares it with `marts.indicator_values` of a published warehouse,
county by county. Used by the end-to-end test and by the benchmark, which fails on a mismatch.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from orchestration import duck

# money numerators/denominators are sums of cents: compared to the cent
MONEY = {"I06", "I10a", "S02", "S04"}


def same(a, b, tol: float) -> bool:
    """Equal within `tol`; a missing value (None/NaN) equals only a missing value."""
    a_missing = a is None or (isinstance(a, float) and math.isnan(a))
    b_missing = b is None or (isinstance(b, float) and math.isnan(b))
    if a_missing or b_missing:
        return a_missing == b_missing
    return abs(float(a) - float(b)) <= tol


def mismatches(truth: pd.DataFrame, values: pd.DataFrame) -> list[tuple]:
    """Every (key, column, truth, warehouse) that differs; `values` are the county rows of
    marts.indicator_values. Empty when every county × period × indicator agrees."""
    county = values[values.area_level == "county"].set_index(
        ["area_code", "period", "indicator_code"]
    )
    out = []
    for row in truth.itertuples(index=False):
        key = (row.area_code, row.period, row.indicator_code)
        if key not in county.index:
            out.append((key, "missing in marts.indicator_values", None, None))
            continue
        got = county.loc[key]
        tol = 0.005 if row.indicator_code in MONEY else 1e-9
        for col in ("numerator", "denominator", "value"):
            if not same(getattr(row, col), got[col], tol):
                out.append((key, col, getattr(row, col), got[col]))
        if isinstance(row.status, str) and row.status != got["status"]:
            out.append((key, "status", row.status, got["status"]))
    return out


def read_truth(truth_dir: Path) -> pd.DataFrame:
    return pd.read_csv(Path(truth_dir) / "indicators.csv", dtype={"area_code": str, "period": str})


def compare_warehouse(warehouse: Path, truth_dir: Path) -> tuple[int, list[tuple]]:
    """(county values compared, mismatches) of a published warehouse against a ground truth."""
    truth = read_truth(truth_dir)
    con = duck.connect(warehouse, read_only=True)
    try:
        values = con.execute(
            "select * from marts.indicator_values where area_level = 'county'"
        ).df()
    finally:
        con.close()
    return len(truth), mismatches(truth, values)
