-- S05 per county x period: HIS discharges (by discharge_time) at the county's county-level
-- hospitals (var county_hospital_categories, register of the period's year) whose 离院方式 is
-- a downward referral (var s05_referral_discharge_ways) over all their discharges.
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

hospitals as (
    select year, county_code, org_code
    from {{ ref('int_facilities__by_year') }}
    where category_code in ({{ sql_list(var('county_hospital_categories')) }})
),

discharges as (
    select org_code, discharge_time, discharge_way
    from {{ ref('stg_his__inpatient_discharges') }}
    where discharge_time is not null
),

final as (
    select
        county_periods.county_code,
        county_periods.period,
        'S05' as indicator_code,
        {{ to_double(
            'sum(case when discharges.discharge_way in (' ~ sql_list(var('s05_referral_discharge_ways')) ~ ') then 1 else 0 end)'
        ) }} as numerator,
        {{ to_double('count(discharges.org_code)') }} as denominator
    from county_periods
    left join hospitals
        on hospitals.year = county_periods.year
        and hospitals.county_code = county_periods.county_code
    left join discharges
        on discharges.org_code = hospitals.org_code
        and {{ period_contains('county_periods', 'discharges.discharge_time') }}
    group by county_periods.county_code, county_periods.period
)

select * from final
