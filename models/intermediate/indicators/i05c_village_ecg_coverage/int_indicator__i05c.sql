-- I05c per county x period (the year's register): active village clinics (seed flag
-- is_village_clinic: WS 218 D600 or the short code D5; not D500) with an ECG
-- device linked to the county ECG centre / active village clinics.
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

village_clinics as (
    select
        year,
        county_code,
        count(*) as active_clinics,
        sum(case when has_ecg_device and is_ecg_linked_to_center then 1 else 0 end) as covered_clinics
    from {{ ref('int_facilities__by_year') }}
    where is_village_clinic
        and is_active
    group by year, county_code
),

final as (
    select
        county_periods.county_code,
        county_periods.period,
        'I05c' as indicator_code,
        {{ to_double('coalesce(village_clinics.covered_clinics, 0)') }} as numerator,
        {{ to_double('coalesce(village_clinics.active_clinics, 0)') }} as denominator
    from county_periods
    left join village_clinics
        on county_periods.year = village_clinics.year
            and county_periods.county_code = village_clinics.county_code
)

select * from final
