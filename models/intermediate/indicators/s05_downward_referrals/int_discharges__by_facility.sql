-- S05: HIS discharges (by discharge_time) at county-level hospitals (var
-- county_hospital_categories, matched on the category code or its short code, so WS 218 A100
-- counts as A1; register of the discharge year) per delivery period, hospital and day;
-- referral_discharges = those whose 离院方式 is a downward referral (var
-- s05_referral_discharge_ways). int_indicator__s05 and marts.indicator_breakdown both sum it.
-- Keyed by delivery period like the incremental models; a table for now (discharges are few).
with

hospitals as (
    select
        year,
        county_code,
        org_code
    from {{ ref('int_facilities__by_year') }}
    where category_code in ({{ sql_list(var('county_hospital_categories')) }})
        or legacy_category_code in ({{ sql_list(var('county_hospital_categories')) }})
),

discharges as (
    select
        _period,
        org_code,
        cast(discharge_time as date) as discharge_date,
        discharge_year,
        discharge_way
    from {{ ref('stg_his__inpatient_discharges') }}
    where discharge_time is not null
),

final as (
    select
        discharges._period,
        hospitals.county_code,
        hospitals.org_code,
        discharges.discharge_date,
        count(*) as discharges,
        sum(case when discharges.discharge_way in ({{ sql_list(var('s05_referral_discharge_ways')) }}) then 1 else 0 end)
            as referral_discharges
    from discharges
    inner join hospitals
        on discharges.discharge_year = hospitals.year
            and discharges.org_code = hospitals.org_code
    group by discharges._period, hospitals.county_code, hospitals.org_code, discharges.discharge_date
)

select * from final
