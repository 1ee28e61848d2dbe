-- Dispatch records that can count for I04: long-term dispatches of physicians with an
-- intermediate-or-higher title from level >= 2 home facilities. A dispatch re-listed in a
-- later year's ledger is kept once (the latest ledger's version).
-- Params: dispatch_types, dispatch_practice_types, dispatch_title_posts,
-- dispatch_min_home_org_level.
with

dispatches as (
    select * from {{ ref('stg_registry__dispatches') }}
),

latest as (
    select
        *,
        row_number() over (partition by dispatch_id order by ledger_year desc, _file desc, _line desc) as version_rank
    from dispatches
),

final as (
    select
        dispatch_id,
        ledger_year,
        person_key,
        home_org_code,
        home_org_level,
        host_org_code,
        start_date,
        end_date
    from latest
    where version_rank = 1
        and dispatch_type in ({{ sql_list(var('dispatch_types')) }})
        and practice_type in ({{ sql_list(var('dispatch_practice_types')) }})
        and title_post in ({{ sql_list(var('dispatch_title_posts')) }})
        and home_org_level >= {{ var('dispatch_min_home_org_level') }}
        and start_date is not null
)

select * from final
