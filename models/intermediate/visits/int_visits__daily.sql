{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **refresh_by_period_config()
    )
}}
-- Visits per delivery period, facility county and day: int_visits__by_facility
-- (where the visits are classified) summed over the facilities. Incremental by delivery period.
with

by_facility as (
    select * from {{ ref('int_visits__by_facility') }}
    where {{ in_refresh('_period') }}
),

final as (
    select
        _period,
        county_code,
        visit_date,
        sum(visits) as visits,
        sum(primary_care_visits) as primary_care_visits,
        sum(tcm_visits) as tcm_visits
    from by_facility
    group by _period, county_code, visit_date
)

select * from final
