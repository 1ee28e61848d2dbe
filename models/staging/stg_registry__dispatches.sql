with

source as (
    select * from {{ source('raw', 'dispatches') }}
),

renamed as (
    select
        dispatch_id,
        cast(_period as integer) as ledger_year,
        person_key,
        person_key_valid,
        home_org_code,
        cast(home_org_level as integer) as home_org_level,
        home_county_code,
        title_post,
        practice_type,
        host_org_code,
        start_date,
        end_date,
        dispatch_type,
        _period,
        _file,
        _line
    from source
)

select * from renamed
