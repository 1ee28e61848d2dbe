{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **refresh_by_period_config()
    )
}}
-- Visits, the one classification: non-cancelled HIS outpatient rows of any
-- visit_type at facilities of the visit year's register that are medical facilities (seed flag
-- is_medical_facility: not pharmacies P1 nor CDCs J100-J400/J1), counted per delivery period,
-- facility and day. TCM visit =
-- TCM-class facility or a TCM department. int_visits__daily (the county indicators) and
-- marts.indicator_breakdown (the facilities behind them) both sum this table, so their
-- numbers cannot diverge. Incremental by delivery period (macros/incremental_refresh.sql).
with

visits as (
    select * from {{ ref('stg_his__outpatient_visits') }}
    where not is_cancelled
        and {{ in_refresh('_period') }}
),

facilities as (
    select * from {{ ref('int_facilities__by_year') }}
    where is_medical_facility
),

tcm_departments as (
    select * from {{ ref('tcm_departments') }}
),

classified as (
    select
        visits._period,
        facilities.county_code,
        facilities.org_code,
        visits.visit_date,
        facilities.is_primary_care,
        facilities.is_tcm_class or tcm_departments.dept_code is not null as is_tcm_visit
    from visits
    inner join facilities
        on visits.visit_year = facilities.year
            and visits.org_code = facilities.org_code
    left join tcm_departments
        on visits.dept_code = tcm_departments.dept_code
),

final as (
    select
        _period,
        county_code,
        org_code,
        visit_date,
        count(*) as visits,
        sum(case when is_primary_care then 1 else 0 end) as primary_care_visits,
        sum(case when is_tcm_visit then 1 else 0 end) as tcm_visits
    from classified
    group by _period, county_code, org_code, visit_date
)

select * from final
