-- reconciliation.i04_physicians — the I04 numerator as a list: one row per county x year x
-- physician (keyed hash) with dispatch days at the county's primary-care facilities in that
-- year's ledger, home facility, host facilities ('|'-separated) and whether the days reach
-- min_dispatch_days (is_counted; count(*) where is_counted = I04's numerator).
-- From int_i04__physician_days, the model I04 counts. Working database only, never published.
select
    county_code,
    cast(year as {{ dbt.type_string() }}) as period,
    person_key,
    home_org_code,
    host_org_codes,
    days,
    is_counted
from {{ ref('int_i04__physician_days') }}
