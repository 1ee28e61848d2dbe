-- The facility register that applies to each year of the period spine: that year's register,
-- else the latest earlier one, else the earliest delivered (so a quarter landed before its
-- year's register still resolves). One row per (year, org_code), with the category flags and
-- the project's short code of the category's class (legacy_category_code: A100 -> A1, D600 -> D5),
-- so a WS 218-2002 four-character code behaves like its short equivalent.
with

facilities as (
    select * from {{ ref('stg_registry__facilities') }}
),

categories as (
    select * from {{ ref('facility_categories') }}
),

spine_years as (
    select distinct year from {{ ref('int_periods') }}
),

register_years as (
    select distinct register_year from facilities
),

chosen as (
    select
        spine_years.year,
        coalesce(
            max(case when register_years.register_year <= spine_years.year then register_years.register_year end),
            min(register_years.register_year)
        ) as register_year
    from spine_years
    cross join register_years
    group by spine_years.year
),

final as (
    select
        chosen.year,
        facilities.register_year,
        facilities.org_code,
        facilities.fixmedins_code,
        facilities.org_name,
        facilities.county_code,
        facilities.category_code,
        categories.legacy_code as legacy_category_code,
        coalesce(categories.is_primary_care = 1, false) as is_primary_care,
        coalesce(categories.is_tcm_category = 1, false) or facilities.is_tcm_class as is_tcm_class,
        coalesce(categories.is_medical_facility = 1, false) as is_medical_facility,
        coalesce(categories.is_village_clinic = 1, false) as is_village_clinic,
        facilities.hospital_level,
        facilities.ownership,
        facilities.consortium_code,
        facilities.is_lead_hospital,
        facilities.has_ecg_device,
        facilities.is_ecg_linked_to_center,
        facilities.is_imaging_center,
        facilities.is_ecg_center,
        facilities.is_active
    from chosen
    inner join facilities
        on chosen.register_year = facilities.register_year
    left join categories
        on facilities.category_code = categories.category_code
)

select * from final
