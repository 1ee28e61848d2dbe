-- I12 per county x period: TCM visits (TCM-class facility, or TCM department 50/51/52 of any
-- other in-county medical facility) / I07's denominator.
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
        'I12' as indicator_code,
        {{ to_double('coalesce(sum(daily.tcm_visits), 0)') }} as numerator,
        {{ to_double('coalesce(sum(daily.visits), 0)') }} as denominator
    from county_periods
    left join daily
        on daily.county_code = county_periods.county_code
        and {{ period_contains('county_periods', 'daily.visit_date') }}
    group by county_periods.county_code, county_periods.period
)

select * from final
