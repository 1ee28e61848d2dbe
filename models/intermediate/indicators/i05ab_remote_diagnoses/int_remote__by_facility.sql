-- I05a / I05b by requesting facility: the counted remote reports of int_remote__counted_reports
-- (the one definition of what counts) per delivery period, county, requesting facility and
-- report day; ecg_reports = I05b's part. Summed by marts.indicator_breakdown (int_indicator__i05ab
-- counts the same rows per county). Keyed by delivery period; a table for now.
with

reports as (
    select * from {{ ref('int_remote__counted_reports') }}
),

final as (
    select
        _period,
        county_code,
        requesting_org_code,
        cast(reported_at as date) as reported_date,
        count(*) as reports,
        sum(case when is_ecg then 1 else 0 end) as ecg_reports
    from reports
    group by _period, county_code, requesting_org_code, cast(reported_at as date)
)

select * from final
