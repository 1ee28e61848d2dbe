-- I07 per county x period: visits at in-county primary-care facilities / visits at all
-- in-county medical facilities.
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

daily as (
    select * from {{ ref('int_visits__daily') }}
),

final as (
    select
        county_periods.county_code,
        county_periods.period,
        'I07' as indicator_code,
        {{ to_double('coalesce(sum(daily.primary_care_visits), 0)') }} as numerator,
        {{ to_double('coalesce(sum(daily.visits), 0)') }} as denominator
    from county_periods
    left join daily
        on daily.county_code = county_periods.county_code
        and {{ period_contains('county_periods', 'daily.visit_date') }}
    group by county_periods.county_code, county_periods.period
)

select * from final
