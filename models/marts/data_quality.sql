-- marts.data_quality — one row per check x source x period (output contract), with the
-- catalogue's description and what was found (`finding`). A view (see _data_quality.yml), so
-- it holds both stages' results: the mart gates write theirs after the build.
with

results as (
    select * from {{ ref('stg_quality__dq_results') }}
),

catalog as (
    select * from {{ ref('dq_check_catalog') }}
),

final as (
    select
        results.check_id,
        results.source_name as source,
        coalesce(results.period, '') as period,
        results.category,
        results.severity,
        results.rows_checked,
        results.rows_failed,
        results.status,
        results.stage,
        results.threshold,
        catalog.description,
        results.finding,
        results.message,
        results.run_at
    from results
    left join catalog on results.check_id = catalog.check_id
)

select * from final
