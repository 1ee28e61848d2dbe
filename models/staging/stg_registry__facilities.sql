with

source as (
    select * from {{ source('raw', 'facilities') }}
),

renamed as (
    select
        -- the register is annual: its delivery period is the year it describes
        cast(_period as integer) as register_year,
        org_code,
        fixmedins_code,
        org_name,
        county_code,
        category_code,
        coalesce(is_tcm_class = 1, false) as is_tcm_class,
        cast(hospital_level as integer) as hospital_level,
        ownership,
        consortium_code,
        coalesce(is_lead_hospital = 1, false) as is_lead_hospital,
        coalesce(has_ecg_device = 1, false) as has_ecg_device,
        coalesce(ecg_linked_to_center = 1, false) as is_ecg_linked_to_center,
        coalesce(is_imaging_center = 1, false) as is_imaging_center,
        coalesce(is_ecg_center = 1, false) as is_ecg_center,
        coalesce(active = 1, false) as is_active,
        _period,
        _file,
        _line
    from source
)

select * from renamed
