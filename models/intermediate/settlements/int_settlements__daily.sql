{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **refresh_by_period_config()
    )
}}
-- Signed settlement sums per delivery period, insured county and settlement day:
-- int_settlements__by_facility summed over the facilities. Incremental by delivery period.
with

by_facility as (
    select * from {{ ref('int_settlements__by_facility') }}
    where {{ in_refresh('_period') }}
),

final as (
    select
        _period,
        insured_county_code,
        setl_date,
    {%- for name, expr in settlement_measures() %}
        sum({{ name }}) as {{ name }}{{ "," if not loop.last }}  -- noqa: LT02
    {%- endfor %}
    from by_facility
    group by _period, insured_county_code, setl_date
)

select * from final
