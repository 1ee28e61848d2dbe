with

source as (
    select * from {{ source('raw', 'population') }}
),

renamed as (
    select
        county_code,
        cast(year as integer) as year,
        sex,
        age_group,
        population,
        _period,
        _file,
        _line
    from source
)

select * from renamed
