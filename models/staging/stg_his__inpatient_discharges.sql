with

source as (
    select * from {{ source('raw', 'inpatient_discharges') }}
),

renamed as (
    select
        admission_id,
        org_code,
        mr_key,
        person_key,
        person_key_valid,
        sex,
        birth_date,
        admit_time,
        discharge_time,
        cast(extract(year from discharge_time) as integer) as discharge_year,
        admit_dept,
        main_dx_code,
        discharge_way,
        pay_method,
        total_cost,
        _period,
        _file,
        _line
    from source
)

select * from renamed
