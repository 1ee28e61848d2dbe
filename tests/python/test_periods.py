"""The one period grammar (orchestration/periods.py), against values worked out by hand."""

from __future__ import annotations

import pytest

from orchestration import periods


def test_parse_and_frequency():
    assert periods.parse_period("2024") == (2024, None)
    assert periods.parse_period("2024Q3") == (2024, 3)
    assert periods.period_frequency("2024") == "annual"
    assert periods.period_frequency("2024Q1") == "quarterly"
    for bad in ("2024Q5", "2024Q0", "24", "2024-04", "2024q2", " 2024", "2024\n", "２０２４", ""):
        assert periods.period_frequency(bad) is None
        with pytest.raises(periods.PeriodError, match="is not YYYY or YYYYQn"):
            periods.parse_period(bad)


def test_selection_of_a_run():
    assert periods.period_selection("2024") == {"2024", "2024Q1", "2024Q2", "2024Q3", "2024Q4"}
    # a quarter reads its own deliveries and the year's annual registers
    assert periods.period_selection("2024Q2") == {"2024Q2", "2024"}
    assert periods.quarters_of(2023, 2) == ["2023Q1", "2023Q2"]
    assert periods.shift_years("2024Q2", 1) == "2023Q2"
    assert periods.shift_years("2024", 3) == "2021"


def test_partition_keys():
    pairs = {"2024": "2024", "2024Q1": "2024-01", "2024Q2": "2024-04", "2024Q3": "2024-07"}
    pairs["2024Q4"] = "2024-10"
    for period, key in pairs.items():
        assert periods.partition_key_of(period) == key
        assert periods.period_of_partition_key(key) == period
    assert periods.partition_key_of("2024Q5") is None
    for bad in ("2024-05", "2024-4", "2024Q2"):
        with pytest.raises(periods.PeriodError, match="2024-01, 2024-04, 2024-07, 2024-10"):
            periods.period_of_partition_key(bad)
