-- County x period: the grain of every per-indicator numerator/denominator model.
with

counties as (
    select * from {{ ref('int_counties') }}
),

periods as (
    select * from {{ ref('int_periods') }}
),

final as (
    select
        counties.county_code,
        periods.period,
        periods.year,
        periods.quarter,
        periods.is_annual,
        periods.period_start,
        periods.period_end,
        periods.days_in_period,
        periods.days_in_year
    from counties
    cross join periods
)

select * from final
