-- I04 per county x period. Numerator: distinct physicians whose dispatch days to primary-care
-- facilities registered in the county (register of the period's year) sum, over their
-- records, to >= min_dispatch_days x days_in_period / days_in_year. Days = inclusive overlap
-- of [start_date, end_date or period end] with the period. Denominator: resident population
-- of the year / population_per.
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

dispatches as (
    select * from {{ ref('int_dispatches__eligible') }}
),

hosts as (
    select * from {{ ref('int_facilities__by_year') }}
    where is_primary_care
),

population as (
    select
        county_code,
        year,
        sum(population) as population
    from {{ ref('stg_registry__population') }}
    group by county_code, year
),

dispatch_overlaps as (
    select
        county_periods.county_code,
        county_periods.period,
        county_periods.days_in_period,
        county_periods.days_in_year,
        dispatches.person_key,
        {{ dbt.datediff(
            'case when dispatches.start_date > county_periods.period_start then dispatches.start_date else county_periods.period_start end',
            'case when dispatches.end_date is not null and dispatches.end_date < county_periods.period_end then dispatches.end_date else county_periods.period_end end',
            'day'
        ) }} + 1 as days
    from county_periods
    inner join hosts
        on hosts.year = county_periods.year
        and hosts.county_code = county_periods.county_code
    inner join dispatches
        on dispatches.host_org_code = hosts.org_code
        and dispatches.start_date <= county_periods.period_end
        and (dispatches.end_date is null or dispatches.end_date >= county_periods.period_start)
),

per_physician as (
    select
        county_code,
        period,
        person_key,
        sum(days) as days,
        max(days_in_period) as days_in_period,
        max(days_in_year) as days_in_year
    from dispatch_overlaps
    group by county_code, period, person_key
),

counted as (
    select
        county_code,
        period,
        count(*) as physicians
    from per_physician
    -- days >= min_dispatch_days * days_in_period / days_in_year, without rounding
    where days * days_in_year >= {{ var('min_dispatch_days') }} * days_in_period
    group by county_code, period
),

final as (
    select
        county_periods.county_code,
        county_periods.period,
        'I04' as indicator_code,
        {{ to_double('coalesce(counted.physicians, 0)') }} as numerator,
        {{ to_double('population.population') }} / {{ var('population_per') }} as denominator
    from county_periods
    left join counted
        on counted.county_code = county_periods.county_code
        and counted.period = county_periods.period
    left join population
        on population.county_code = county_periods.county_code
        and population.year = county_periods.year
)

select * from final
