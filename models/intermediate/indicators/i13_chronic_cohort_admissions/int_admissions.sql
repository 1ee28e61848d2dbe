-- Admissions for I13: HIS discharges at any facility of the discharge year's register, plus
-- insurance inpatient settlements (originals not reversed within the same year, pharmacies
-- excluded). I13 keeps the insurance ones only at facilities outside the person's county
-- (facility_county_code, null when the code is not registered).
with

discharges as (
    select * from {{ ref('stg_his__inpatient_discharges') }}
),

facilities as (
    select * from {{ ref('int_facilities__by_year') }}
),

signed as (
    select * from {{ ref('int_settlements__signed') }}
    where is_inpatient
        and not is_pharmacy
),

his as (
    select
        'his' as admission_source,
        {{ dbt.concat(['discharges.org_code', "'/'", 'discharges.admission_id']) }} as admission_key,
        discharges.person_key,
        discharges.discharge_time as event_time,
        {{ icd10_category('discharges.main_dx_code') }} as dx_category,
        facilities.county_code as facility_county_code
    from discharges
    inner join facilities
        on discharges.discharge_year = facilities.year
            and discharges.org_code = facilities.org_code
),

reversed_same_year as (
    select distinct originals.setl_id
    from signed as originals
    inner join signed as reversals
        on reversals.is_reversal
            and originals.setl_id = reversals.init_setl_id
            and originals.setl_year = reversals.setl_year
    where not originals.is_reversal
),

insurance as (
    select
        'insurance' as admission_source,
        signed.setl_id as admission_key,
        signed.person_key,
        signed.setl_time as event_time,
        {{ icd10_category('signed.dise_codg') }} as dx_category,
        signed.facility_county_code
    from signed
    left join reversed_same_year
        on signed.setl_id = reversed_same_year.setl_id
    where not signed.is_reversal
        and reversed_same_year.setl_id is null
),

final as (
    select * from his
    union all
    select * from insurance
)

select * from final
where person_key is not null
