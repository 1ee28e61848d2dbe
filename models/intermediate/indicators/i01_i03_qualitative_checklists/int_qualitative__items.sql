-- Checklist items per county x year x qualitative indicator, judged at the highest assessor
-- level present (assessor_levels: province > city > county). An item is met when has_policy
-- and implemented (and evidence cited, var qualitative_requires_evidence); a seed item missing
-- at that level is not met. Only county-years with an assessment of the indicator appear.
with

assessments as (
    select * from {{ ref('stg_assessment__qualitative_assessments') }}
),

levels as (
    select * from {{ ref('assessor_levels') }}
),

items as (
    select * from {{ ref('qualitative_items') }}
),

ranked as (
    select
        assessments.*,
        levels.level_rank
    from assessments
    inner join levels
        on assessments.assessor_level = levels.assessor_level
),

top_level as (
    select
        county_code,
        year,
        indicator_code,
        max(level_rank) as level_rank
    from ranked
    group by county_code, year, indicator_code
),

top_rows as (
    select ranked.*
    from ranked
    inner join top_level
        on ranked.county_code = top_level.county_code
            and ranked.year = top_level.year
            and ranked.indicator_code = top_level.indicator_code
            and ranked.level_rank = top_level.level_rank
),

judged as (
    select
        county_code,
        year,
        indicator_code,
        item_code,
        max(case
            when has_policy and is_implemented
                {%- if var('qualitative_requires_evidence') %} and evidence is not null{% endif %}
                then 1
            else 0
        end) as is_met
    from top_rows
    group by county_code, year, indicator_code, item_code
),

final as (
    select
        top_level.county_code,
        top_level.year,
        top_level.indicator_code,
        items.item_code,
        coalesce(judged.is_met, 0) = 1 as is_met
    from top_level
    inner join items
        on top_level.indicator_code = items.indicator_code
    left join judged
        on top_level.county_code = judged.county_code
            and top_level.year = judged.year
            and top_level.indicator_code = judged.indicator_code
            and items.item_code = judged.item_code
)

select * from final
