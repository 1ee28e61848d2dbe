-- Dispatch records that can count for the dispatched-physician indicators, each with its days
-- in the year of the ledger it was delivered in: long-term dispatches of physicians with an
-- intermediate-or-higher title from level >= 2 home facilities. Year Y uses only the ledger
-- delivered for Y (the annual delivery is that year's complete ledger), so an open-ended record
-- of an earlier ledger does not carry over into later years. Days = inclusive overlap of
-- [start_date, end_date or Dec 31] with the ledger year.
-- Params: dispatch_types, dispatch_practice_types, dispatch_title_posts,
-- dispatch_min_home_org_level.
with

dispatches as (
    select * from {{ ref('stg_registry__dispatches') }}
),

eligible as (
    select
        dispatch_id,
        ledger_year,
        person_key,
        home_org_code,
        home_org_level,
        host_org_code,
        start_date,
        end_date,
        cast({{ dbt.concat(["cast(ledger_year as " ~ dbt.type_string() ~ ")", "'-01-01'"]) }} as date) as year_start,
        cast({{ dbt.concat(["cast(ledger_year as " ~ dbt.type_string() ~ ")", "'-12-31'"]) }} as date) as year_end
    from dispatches
    where dispatch_type in ({{ sql_list(var('dispatch_types')) }})
        and practice_type in ({{ sql_list(var('dispatch_practice_types')) }})
        and title_post in ({{ sql_list(var('dispatch_title_posts')) }})
        and home_org_level >= {{ var('dispatch_min_home_org_level') }}
        and start_date is not null
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
        end_date,
        {{ dbt.datediff(
            'case when start_date > year_start then start_date else year_start end',
            'case when end_date is not null and end_date < year_end then end_date else year_end end',
            'day'
        ) }} + 1 as days_in_year
    from eligible
    where start_date <= year_end
        and (end_date is null or end_date >= year_start)
)

select * from final
