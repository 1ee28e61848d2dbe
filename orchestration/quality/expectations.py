"""Each catalogue rule as Great Expectations' own expectations, validated by GE inside DuckDB.

`plan(check)` returns a `Plan` (the expectations of one check and how its result reads)
or None for the rules no expectation fits, which stay SQL in rules.py (`SQL_ONLY`, with why).
A check's threshold (tolerated share of failing rows) is GE's `mostly` = 1 - threshold.
Column map expectations ignore nulls, as the SQL did (`where field is not null`).

What a result shows never holds a personal identifier: raw tables carry only keyed hashes, no
check reads a hash column's values (R13/R28 read the `_valid` flag beside it), and rows are named
by `_file:_line` (raw) or indicator and area (marts).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from orchestration.contract import seed_codes
from orchestration.quality.catalog import Check

# Rules no GE expectation fits: the SQL in rules.py measures them, the gate judges the share.
SQL_ONLY = {
    "signed_amounts": "the sign allowed depends on another column (reversal flag), per row",
    "fund_le_total": "compares the absolute values of two columns",
    "reversal_has_original": "looks for another row (the original settlement), across periods",
    "facility_delivered": "compares one period's facilities with the previous period's",
    "yoy_jump": "compares a value with the same county's value a year before",
}

RAW_ROW = ("_file", "_line")
MART_ROW = ("indicator_code", "area_code")


@dataclass
class Plan:
    expectations: list  # GE expectation objects, each with meta check_id
    finding: str  # "values": distinct failing values; "lines": rows by index columns
    index_columns: tuple[str, ...]
    partitioned: bool = False  # expectations cover disjoint rows (sum rows checked), else max
    detail: bool = False  # lines: also show the failing value


def mostly(check: Check) -> float:
    return 1.0 - check.threshold


def period_bounds(period: str) -> tuple[str, str]:
    """[start, end) of a delivery period: a year `2024` or a quarter `2024Q2`."""
    year = int(period[:4])
    if len(period) == 4:
        return f"{year}-01-01", f"{year + 1}-01-01"
    q = int(period[-1])
    start = dt.date(year, 3 * q - 2, 1)
    end = dt.date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    return start.isoformat(), end.isoformat()


def _meta(check: Check, **extra) -> dict:
    return {
        "meta": {"check_id": check.check_id},
        "description": f"{check.check_id} [{check.severity}, {check.category}] {check.source}: "
        f"{check.description} (mostly {mostly(check):g})",
        **extra,
    }


def _excluded(check: Check) -> list[str]:
    return list(check.params.get("exclude", []))


def run_parameters(period: str, facility_codes: list[str]) -> dict:
    """The `$PARAMETER` values of a batch's expectations: the delivery period's bounds
    (in_period) and the facility register's codes (known_facility)."""
    start, end = period_bounds(period) if period[:4].isdigit() else (None, None)
    return {"period_start": start, "period_end": end, "facility_codes": facility_codes}


def plan(check: Check) -> Plan | None:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    rule, fields, m = check.rule, check.fields, mostly(check)
    row = RAW_ROW if check.stage == "raw" else MART_ROW
    if rule in SQL_ONLY:
        return None
    if rule == "not_null":
        exps = [
            gxe.ExpectColumnValuesToNotBeNull(column=f, mostly=m, **_meta(check)) for f in fields
        ]
        return Plan(exps, "lines", row)
    if rule == "non_negative":
        exps = [
            gxe.ExpectColumnValuesToBeBetween(
                column=fields[0], min_value=0, mostly=m, **_meta(check)
            )
        ]
        return Plan(exps, "lines", row, detail=True)
    if rule == "in_period":
        exps = [
            gxe.ExpectColumnValuesToBeBetween(
                column=fields[0],
                min_value={"$PARAMETER": "period_start"},
                max_value={"$PARAMETER": "period_end"},
                strict_max=True,
                mostly=m,
                **_meta(check),
            )
        ]
        return Plan(exps, "lines", row, detail=True)
    if rule in ("icd10_format", "area_code_format"):
        regex = "^[A-Z][0-9]{2}" if rule == "icd10_format" else "^[0-9]{6}$"
        exps = [
            gxe.ExpectColumnValuesToMatchRegex(
                column=fields[0], regex=regex, mostly=m, **_meta(check)
            )
        ]
        return Plan(exps, "values", row)
    if rule in ("in_set", "in_seed", "known_facility"):
        if rule == "in_set":
            values = list(check.params["values"])
        elif rule == "in_seed":
            values = sorted(seed_codes(check.params["seed"], check.params["column"]))
        else:
            # the register's codes are given when the batch runs (`run_parameters`): GE copies an
            # expectation's configuration thousands of times a run, each copy of a register's
            # codes costing as much as the rest (bench/README.md, "Measured choices")
            values = {"$PARAMETER": "facility_codes"}
        exps = [
            gxe.ExpectColumnValuesToBeInSet(
                column=fields[0], value_set=values, mostly=m, **_meta(check)
            )
        ]
        return Plan(exps, "values", row)
    if rule == "invalid_id_share":
        # the `_valid` flag of rows that have a key; the key itself is never read out
        exps = [
            gxe.ExpectColumnValuesToBeInSet(
                column=fields[0],
                value_set=[True],
                row_condition=Column("person_key").is_not_null(),
                mostly=m,
                **_meta(check),
            )
        ]
        return Plan(exps, "lines", row)
    if rule == "unique_key":
        exps = [
            gxe.ExpectCompoundColumnsToBeUnique(column_list=list(fields), mostly=m, **_meta(check))
        ]
        return Plan(exps, "values", row)
    if rule == "row_count":
        exps = [
            gxe.ExpectTableRowCountToBeBetween(
                min_value=check.params.get("min", 1),
                max_value=check.params.get("max"),
                **_meta(check),
            )
        ]
        return Plan(exps, "values", row)
    if rule == "value_present":
        condition = (Column("area_level") == "county") & Column("indicator_code").is_not_in(
            _excluded(check)
        )
        exps = [
            gxe.ExpectColumnValuesToNotBeNull(
                column="value", row_condition=condition, mostly=m, **_meta(check)
            )
        ]
        return Plan(exps, "lines", row)
    if rule == "value_range":
        # params: {unit or indicator code: [low, high]}; an indicator's own range wins over its unit's
        ranges = {k: v for k, v in check.params.items() if k != "exclude"}
        by_code = {k: v for k, v in ranges.items() if k[:1] in "IS" and k[1:2].isdigit()}
        by_unit = {k: v for k, v in ranges.items() if k not in by_code}
        excluded = _excluded(check)
        # one expectation per distinct range (the indicators sharing it), then one per unit
        codes_of: dict[tuple, list[str]] = {}
        for code, (lo, hi) in by_code.items():
            if code not in excluded:
                codes_of.setdefault((lo, hi), []).append(code)
        exps = [
            gxe.ExpectColumnValuesToBeBetween(
                column="value", min_value=lo, max_value=hi, mostly=m,
                row_condition=Column("indicator_code").is_in(codes), **_meta(check),
            )
            for (lo, hi), codes in codes_of.items()
        ] + [
            gxe.ExpectColumnValuesToBeBetween(
                column="value", min_value=lo, max_value=hi, mostly=m,
                row_condition=(Column("unit") == unit)
                & Column("indicator_code").is_not_in(excluded + list(by_code))
                if excluded or by_code
                else Column("unit") == unit,
                **_meta(check),
            )
            for unit, (lo, hi) in by_unit.items()
        ]  # fmt: skip
        return Plan(exps, "lines", row, partitioned=True, detail=True)
    raise ValueError(f"check {check.check_id}: rule {rule!r} has no expectation and no SQL")
