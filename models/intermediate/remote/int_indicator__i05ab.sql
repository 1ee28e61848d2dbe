-- I05a (imaging) and I05b (ECG) per county x period: flag = 1 when the county's centre (the
-- facility flagged is_imaging_center / is_ecg_center in the year's register) reported at
-- least min_center_reports remote reports requested by a primary-care facility of the
-- county, reported_at in the period.
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

reports as (
    select * from {{ ref('stg_telemed__remote_diagnoses') }}
    where reported_at is not null
),

facilities as (
    select * from {{ ref('int_facilities__by_year') }}
),

modalities as (
    select 'I05a' as indicator_code, 'IMAGING' as modality
    union all
    select 'I05b', 'ECG'
),

valid_reports as (
    select
        requester.county_code,
        reports.reported_at,
        modalities.indicator_code
    from reports
    inner join modalities
        on modalities.modality = reports.modality
    inner join facilities as requester
        on requester.year = reports.reported_year
        and requester.org_code = reports.requesting_org_code
        and requester.is_primary_care
    inner join facilities as centre
        on centre.year = reports.reported_year
        and centre.org_code = reports.center_org_code
        and centre.county_code = requester.county_code
        and (
            (modalities.modality = 'IMAGING' and centre.is_imaging_center)
            or (modalities.modality = 'ECG' and centre.is_ecg_center)
        )
),

counted as (
    select
        county_periods.county_code,
        county_periods.period,
        valid_reports.indicator_code,
        count(*) as reports
    from county_periods
    inner join valid_reports
        on valid_reports.county_code = county_periods.county_code
        and {{ period_contains('county_periods', 'valid_reports.reported_at') }}
    group by county_periods.county_code, county_periods.period, valid_reports.indicator_code
),

final as (
    select
        county_periods.county_code,
        county_periods.period,
        modalities.indicator_code,
        coalesce(counted.reports, 0) as reports,
        case when coalesce(counted.reports, 0) >= {{ var('min_center_reports') }} then 1 else 0 end as flag
    from county_periods
    cross join modalities
    left join counted
        on counted.county_code = county_periods.county_code
        and counted.period = county_periods.period
        and counted.indicator_code = modalities.indicator_code
)

select * from final
