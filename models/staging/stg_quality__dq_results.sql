-- Results of the Great Expectations quality gates (orchestration/quality), one row per
-- check x source x period.
with

source as (
    select * from {{ source('raw', 'dq_results') }}
),

renamed as (
    select
        check_id,
        stage,
        source as source_name,
        period,
        category,
        severity,
        threshold,
        rows_checked,
        rows_failed,
        status,
        message,
        finding,
        run_at
    from source
)

select * from renamed
