-- I08 per county (of insurance enrolment) x period, signed settlement rows each in the
-- period of its own setl_time: Net pooled fund of the county's insured at in-county facilities / at all facilities (pharmacies excluded).
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

daily as (
    select * from {{ ref('int_settlements__daily') }}
),

final as (
    select
        county_periods.county_code,
        county_periods.period,
        'I08' as indicator_code,
        {{ to_double('coalesce(sum(daily.pooled_fund_in_county), 0)') }} as numerator,
        {{ to_double('coalesce(sum(daily.pooled_fund), 0)') }} as denominator
    from county_periods
    left join daily
        on daily.insured_county_code = county_periods.county_code
        and {{ period_contains('county_periods', 'daily.setl_date') }}
    group by county_periods.county_code, county_periods.period
)

select * from final
