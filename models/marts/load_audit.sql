-- marts.load_audit — one row per landed file (rows_read = rows_loaded + rows_quarantined +
-- rows_duplicate for a loaded file), from the loader's raw.load_audit.
with

audit as (
    select * from {{ ref('stg_loader__load_audit') }}
),

final as (
    select
        source_name as source,
        period,
        file,
        rows_read,
        rows_loaded,
        rows_quarantined,
        rows_duplicate,
        loaded_at,
        status,
        profile
    from audit
)

select * from final
