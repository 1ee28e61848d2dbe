{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **refresh_by_period_config()
    )
}}
-- Signed settlement sums per delivery period, insured county, settlement facility
-- (fixmedins_code) and settlement day, pharmacies excluded (no settlement indicator
-- counts them): the one place the settlement measures are defined (macro settlement_measures).
-- int_settlements__daily (the county models of the settlement indicators) and
-- marts.indicator_breakdown both sum this table. The facility's register attributes
-- (facility_org_code, facility_county_code: null when the code is not registered that year)
-- come from int_settlements__signed. Incremental by delivery period.
with

signed as (
    select * from {{ ref('int_settlements__signed') }}
    where not is_pharmacy
        and insured_county_code is not null
        and {{ in_refresh('_period') }}
),

final as (
    select
        _period,
        insured_county_code,
        fixmedins_code,
        setl_date,
        max(facility_org_code) as facility_org_code,
        max(facility_county_code) as facility_county_code,
        max(fixmedins_name) as fixmedins_name,
    {%- for name, expr in settlement_measures() %}
        sum({{ expr }}) as {{ name }}{{ "," if not loop.last }}  -- noqa: LT02
    {%- endfor %}
    from signed
    group by _period, insured_county_code, fixmedins_code, setl_date
)

select * from final
