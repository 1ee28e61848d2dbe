-- I04 per county x year (annual only, the official 年内…派驻6个月以上的人数 ×10000 / 常住人口).
-- Numerator: physicians of int_i04__physician_days counted (days in the year's ledger at the
-- county's primary-care facilities >= min_dispatch_days). Denominator: the county's total
-- resident population of the year / population_per.
with

county_years as (
    select * from {{ ref('int_county_periods') }}
    where is_annual
),

physicians as (
    select * from {{ ref('int_i04__physician_days') }}
    where is_counted
),

population as (
    select * from {{ ref('int_county_population') }}
),

counted as (
    select
        county_code,
        year,
        count(*) as physicians
    from physicians
    group by county_code, year
),

final as (
    select
        county_years.county_code,
        county_years.period,
        'I04' as indicator_code,
        {{ to_double('coalesce(counted.physicians, 0)') }} as numerator,
        {{ to_double('population.population') }} / {{ var('population_per') }} as denominator
    from county_years
    left join counted
        on county_years.county_code = counted.county_code
            and county_years.year = counted.year
    left join population
        on county_years.county_code = population.county_code
            and county_years.year = population.year
)

select * from final
