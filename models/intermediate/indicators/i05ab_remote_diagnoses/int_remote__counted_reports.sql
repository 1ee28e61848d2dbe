-- Remote diagnoses that count for I05a / I05b (official 2024 attachment): one row per report
-- of the county's imaging or ECG centre (a facility registered in the county, flagged
-- is_imaging_center or is_ecg_center in the register of the report's year) for a request
-- from another facility registered in the same county, with reported_at set. Every modality
-- counts; is_ecg marks I05b's part. Not counted: the centre's own requests, requests from
-- other counties, reports of a facility that is not a centre, unreported requests. A report
-- belongs to the period of its reported_at (a request of December reported in January counts
-- in the new year).
with

reports as (
    select * from {{ ref('stg_telemed__remote_diagnoses') }}
    where reported_at is not null
),

facilities as (
    select * from {{ ref('int_facilities__by_year') }}
),

final as (
    select
        centre.county_code,
        reports.reported_year as year,
        reports.reported_at,
        reports.request_id,
        reports.requesting_org_code,
        reports.center_org_code,
        reports.modality,
        reports.modality = 'ECG' as is_ecg,
        reports._period
    from reports
    inner join facilities as centre
        on reports.reported_year = centre.year
            and reports.center_org_code = centre.org_code
            and (centre.is_imaging_center or centre.is_ecg_center)
    inner join facilities as requester
        on reports.reported_year = requester.year
            and reports.requesting_org_code = requester.org_code
            and centre.county_code = requester.county_code
    where reports.requesting_org_code <> reports.center_org_code
)

select * from final
