with

source as (
    select * from {{ source('raw', 'outpatient_visits') }}
),

renamed as (
    select
        visit_id,
        org_code,
        dept_code,
        visit_time,
        cast(visit_time as date) as visit_date,
        cast(extract(year from visit_time) as integer) as visit_year,
        visit_type,
        coalesce(cancel_flag = 1, false) as is_cancelled,
        person_key,
        person_key_valid,
        sex,
        birth_date,
        dx_code,
        total_fee,
        insutype,
        _period,
        _file,
        _line
    from source
)

select * from renamed
