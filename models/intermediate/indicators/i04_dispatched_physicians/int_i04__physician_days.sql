-- I04 per physician: one row per county x year x physician (person_key) with the days the
-- physician served primary-care facilities registered in the county (register of the year),
-- summed over the physician's records in that year's ledger, and whether that reaches
-- min_dispatch_days (the official 年内派驻6个月以上; no pro-rating). The reconciliation list a
-- county checks its I04 count against.
with

dispatches as (
    select * from {{ ref('int_dispatches__eligible') }}
),

hosts as (
    select * from {{ ref('int_facilities__by_year') }}
    where is_primary_care
),

served as (
    select
        hosts.county_code,
        dispatches.ledger_year as year,
        dispatches.person_key,
        dispatches.home_org_code,
        dispatches.host_org_code,
        dispatches.days_in_year
    from dispatches
    inner join hosts
        on dispatches.ledger_year = hosts.year
            and dispatches.host_org_code = hosts.org_code
    where dispatches.person_key is not null
),

hosts_per_physician as (
    select distinct
        county_code,
        year,
        person_key,
        host_org_code
    from served
),

host_lists as (
    select
        county_code,
        year,
        person_key,
        {{ listagg_ordered('host_org_code', "'|'", 'host_org_code') }} as host_org_codes
    from hosts_per_physician
    group by county_code, year, person_key
),

per_physician as (
    select
        county_code,
        year,
        person_key,
        min(home_org_code) as home_org_code,
        sum(days_in_year) as days
    from served
    group by county_code, year, person_key
),

final as (
    select
        per_physician.county_code,
        per_physician.year,
        per_physician.person_key,
        per_physician.home_org_code,
        host_lists.host_org_codes,
        per_physician.days,
        per_physician.days >= {{ var('min_dispatch_days') }} as is_counted
    from per_physician
    inner join host_lists
        on per_physician.county_code = host_lists.county_code
            and per_physician.year = host_lists.year
            and per_physician.person_key = host_lists.person_key
)

select * from final
