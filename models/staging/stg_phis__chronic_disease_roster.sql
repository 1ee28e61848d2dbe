with

source as (
    select * from {{ source('raw', 'chronic_disease_roster') }}
),

renamed as (
    select
        county_code,
        cast(year as integer) as year,
        person_key,
        person_key_valid,
        disease,
        managing_org_code,
        coalesce(managed_at_year_end = 1, false) as is_managed_at_year_end,
        coalesce(standard_managed = 1, false) as is_standard_managed,
        _period,
        _file,
        _line
    from source
)

select * from renamed
