with

source as (
    select * from {{ source('raw', 'deaths') }}
),

renamed as (
    select
        death_id,
        person_key,
        person_key_valid,
        sex,
        birth_date,
        death_date,
        cast(extract(year from death_date) as integer) as death_year,
        {{ age_in_years('birth_date', 'death_date') }} as age_at_death,
        residence_county_code,
        underlying_cause,
        _period,
        _file,
        _line
    from source
)

select * from renamed
