with

source as (
    select * from {{ source('raw', 'qualitative_assessments') }}
),

renamed as (
    select
        county_code,
        cast(year as integer) as year,
        indicator_code,
        item_code,
        coalesce(has_policy = 1, false) as has_policy,
        coalesce(implemented = 1, false) as is_implemented,
        nullif(trim(evidence), '') as evidence,
        assessor_level,
        assessed_at,
        _period,
        _file,
        _line
    from source
)

select * from renamed
