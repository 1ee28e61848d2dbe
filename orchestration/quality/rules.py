"""The checks no Great Expectations expectation fits (expectations.SQL_ONLY says why; every
other rule is GE's own expectation, expectations.py). Each is SQL that DuckDB runs over a whole
table at once, returning one row per period: (period, rows_checked, rows_failed, examples,
examples_total); the gate judges the share against the catalogue's threshold as GE's `mostly`
does. Row-level work stays in DuckDB, so a province-year of raw visits is never pulled into
pandas.

`examples` says what was found, in the same scan: either the distinct failing values of a code
column (facility codes, diagnosis codes, area codes; `examples_total` = how many distinct) or,
where a value could identify a person or is unique per row, the first failing rows as
`file:line` (`examples_total` = rows failed). Never an identifier in clear.
"""

from __future__ import annotations

from orchestration.quality.catalog import Check


def _table(check: Check) -> str:
    return f"raw.{check.source}" if check.stage == "raw" else f"marts.{check.source}"


MAX_EXAMPLES = 5
LINE = "_file || ':' || _line"  # where a failing raw row is, without its content


def _only_failed(expr: str, failed: str) -> str:
    """`expr` computed for failing rows only. An aggregate's FILTER does not stop DuckDB from
    computing its arguments for every row; CASE does (measured: bench/README.md, "Measured choices")."""
    return f"case when {failed} then {expr} end"


def _examples_of_values(expr: str, failed: str) -> str:
    """The distinct failing values (sorted, first few) and how many there are."""
    expr = _only_failed(expr, failed)
    return (
        f"list_sort(list(distinct {expr}) filter (where {failed}))[1:{MAX_EXAMPLES}] as examples, "
        f"count(distinct {expr}) filter (where {failed}) as examples_total"
    )


def _examples_of_lines(failed: str, detail: str | None = None) -> str:
    """The first failing rows by file and line (bounded: top-N, not a list of every row)."""
    label = (
        LINE
        if detail is None
        else f"{LINE} || ' (' || coalesce(cast({detail} as varchar), '') || ')'"
    )
    return (
        f"arg_min({_only_failed(label, failed)}, {_only_failed('(_file, _line)', failed)}, "
        f"{MAX_EXAMPLES}) filter (where {failed}) as examples, "
        f"count(*) filter (where {failed}) as examples_total"
    )


def _per_period(
    check: Check,
    failed: str,
    where: str = "true",
    period_col: str = "_period",
    examples: str | None = None,
) -> str:
    examples = examples or _examples_of_lines(failed)
    return f"""
        select {period_col} as period, count(*) as rows_checked,
               count(*) filter (where {failed}) as rows_failed, {examples}
        from {_table(check)} where {where} group by {period_col}"""


def signed_amounts(check: Check) -> str:
    wrong = " or ".join(
        f"(refd_setl_flag = 1 and {f} > 0) or (coalesce(refd_setl_flag, 0) = 0 and {f} < 0)"
        for f in check.fields
    )
    return _per_period(check, wrong)


def fund_le_total(check: Check) -> str:
    return _per_period(
        check,
        "abs(hifp_pay) > abs(medfee_sumamt)",
        where="hifp_pay is not null and medfee_sumamt is not null",
    )


def reversal_has_original(check: Check) -> str:
    # Only the originals some reversal points at are grouped (a few percent of the rows), not
    # every settlement (measured: bench/README.md, "Measured choices").
    return f"""
        with reversals as (
            select _period, _file, _line, init_setl_id, setl_time
            from raw.insurance_settlements where refd_setl_flag = 1
        ),
        originals as (
            select setl_id, min(year(setl_time)) as setl_year
            from raw.insurance_settlements
            where coalesce(refd_setl_flag, 0) = 0 and setl_id in (select init_setl_id from reversals)
            group by setl_id
        )
        select r._period as period, count(*) as rows_checked,
               count(*) filter (where o.setl_id is null) as rows_failed,
               arg_min(r._file || ':' || r._line, (r._file, r._line), {MAX_EXAMPLES})
                   filter (where o.setl_id is null) as examples,
               count(*) filter (where o.setl_id is null) as examples_total
        from reversals as r
        left join originals as o on o.setl_id = r.init_setl_id and o.setl_year <= year(r.setl_time)
        group by r._period"""


def facility_delivered(check: Check) -> str:
    """Facilities that delivered in the previous quarter but not in this one."""
    f, t = check.fields[0], _table(check)
    return f"""
        with delivered as (select distinct _period, {f} as org from {t} where {f} is not null),
        periods as (
            select distinct _period,
                case when right(_period, 1) = '1'
                     then cast(cast(substr(_period, 1, 4) as integer) - 1 as varchar) || 'Q4'
                     else substr(_period, 1, 5) || cast(cast(right(_period, 1) as integer) - 1 as varchar)
                end as previous_period
            from {t}
        )
        select p._period as period, count(*) as rows_checked,
               count(*) filter (where now_.org is null) as rows_failed,
               {_examples_of_values("before.org || coalesce(' ' || names.org_name, '')", "now_.org is null")}
        from periods as p
        join delivered as before on before._period = p.previous_period
        left join delivered as now_ on now_._period = p._period and now_.org = before.org
        left join (select org_code, any_value(org_name) as org_name from raw.facilities group by org_code)
            as names on names.org_code = before.org
        group by p._period"""


# ---- mart rules: period column is `period` ----------------------------------------------


def _excluded(check: Check) -> str:
    codes = check.params.get("exclude", [])
    return ", ".join(f"'{c}'" for c in codes)


def yoy_jump(check: Check) -> str:
    limit = check.params["max_relative_change"]
    return f"""
        select cur.period, count(*) as rows_checked,
               count(*) filter (where abs(cur.value / prev.value - 1) > {limit}) as rows_failed,
               {
        _examples_of_values(
            "cur.indicator_code || ' ' || cur.area_code || ' '"
            " || round(cast(prev.value as double), 4) || ' → ' || round(cast(cur.value as double), 4)",
            f"abs(cur.value / prev.value - 1) > {limit}",
        )
    }
        from marts.indicator_values as cur
        join marts.indicator_values as prev
          on prev.area_level = cur.area_level and prev.area_code = cur.area_code
         and prev.indicator_code = cur.indicator_code and prev.quarter is null
         and prev.year = cur.year - 1
        where cur.area_level = 'county' and cur.quarter is null
          and cur.value is not null and prev.value is not null and prev.value <> 0
          and cur.indicator_code not in ({_excluded(check)})
        group by cur.period"""


RULES = {
    fn.__name__: fn
    for fn in (
        signed_amounts,
        fund_le_total,
        reversal_has_original,
        facility_delivered,
        yoy_jump,
    )
}
