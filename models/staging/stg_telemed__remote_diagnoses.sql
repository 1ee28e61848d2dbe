with

source as (
    select * from {{ source('raw', 'remote_diagnoses') }}
),

renamed as (
    select
        request_id,
        requesting_org_code,
        center_org_code,
        modality,
        requested_at,
        reported_at,
        cast(extract(year from reported_at) as integer) as reported_year,
        _period,
        _file,
        _line
    from source
)

select * from renamed
