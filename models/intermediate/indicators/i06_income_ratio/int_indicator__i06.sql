-- I06 per county x annual period, as pooled components so roll-ups can pool them:
-- income and head-count of on-post staff (annual_income not empty) at public,
-- consortium-member primary-care facilities, and at lead hospitals, of the county (register
-- of the year; roster of the year). Param: i06_primary_care_ownership.
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
    where is_annual
),

staff as (
    select * from {{ ref('stg_hr__staff') }}
    where is_on_post
        and annual_income is not null
),

facilities as (
    select * from {{ ref('int_facilities__by_year') }}
),

classified as (
    select
        facilities.county_code,
        staff.roster_year as year,
        staff.annual_income,
        facilities.is_primary_care
        and facilities.ownership in ({{ sql_list(var('i06_primary_care_ownership')) }})
        and facilities.consortium_code is not null as is_member_primary_care,
        facilities.is_lead_hospital
    from staff
    inner join facilities
        on staff.roster_year = facilities.year
            and staff.org_code = facilities.org_code
),

per_county as (
    select
        county_code,
        year,
        sum(case when is_member_primary_care then annual_income else 0 end) as primary_care_income,
        sum(case when is_member_primary_care then 1 else 0 end) as primary_care_heads,
        sum(case when is_lead_hospital then annual_income else 0 end) as lead_hospital_income,
        sum(case when is_lead_hospital then 1 else 0 end) as lead_hospital_heads
    from classified
    group by county_code, year
),

final as (
    select
        county_periods.county_code,
        county_periods.period,
        'I06' as indicator_code,
        {{ to_double('coalesce(per_county.primary_care_income, 0)') }} as primary_care_income,
        coalesce(per_county.primary_care_heads, 0) as primary_care_heads,
        {{ to_double('coalesce(per_county.lead_hospital_income, 0)') }} as lead_hospital_income,
        coalesce(per_county.lead_hospital_heads, 0) as lead_hospital_heads
    from county_periods
    left join per_county
        on county_periods.county_code = per_county.county_code
            and county_periods.year = per_county.year
)

select * from final
