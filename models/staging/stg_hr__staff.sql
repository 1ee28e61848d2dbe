with

source as (
    select * from {{ source('raw', 'personnel') }}
),

renamed as (
    select
        -- the roster is annual: its delivery period is the year of the incomes
        cast(_period as integer) as roster_year,
        org_code,
        staff_id,
        person_key,
        person_key_valid,
        sex,
        birth_date,
        practice_type,
        title_post,
        coalesce(on_post = 1, false) as is_on_post,
        annual_income,
        _period,
        _file,
        _line
    from source
)

select * from renamed
