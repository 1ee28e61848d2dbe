with

source as (
    select * from {{ source('raw', 'load_audit') }}
),

renamed as (
    select
        source as source_name,
        period,
        file,
        rows_read,
        rows_loaded,
        rows_quarantined,
        rows_duplicate,
        loaded_at,
        status,
        message,
        profile
    from source
)

select * from renamed
