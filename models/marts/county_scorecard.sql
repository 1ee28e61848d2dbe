-- marts.county_scorecard — one row per county x year: score 0-100 = 100 x sum(weight x
-- attainment) / sum(weight) over the scored indicators that have a value, grade by the
-- grade_bands seed, rank within the city and the province, and the per-indicator attainment
-- as text (attainment_detail; one row per indicator in marts.county_scorecard_attainment).
with

attainment as (
    select * from {{ ref('county_scorecard_attainment') }}
),

bands as (
    select * from {{ ref('grade_bands') }}
),

area_names as (
    select * from {{ ref('int_area_names') }}
),

scored as (
    select
        county_code,
        year,
        100 * sum(weight * attainment) / nullif(sum(case when attainment is not null then weight end), 0) as score,
        count(attainment) as indicators_scored,
        count(*) as indicators_in_rules,
        {{ listagg_ordered(
            dbt.concat(['indicator_code', "'='", "coalesce(cast(round(attainment, 2) as " ~ dbt.type_string() ~ "), '-')"]),
            "'; '",
            'indicator_code'
        ) }} as attainment_detail
    from attainment
    group by county_code, year
),

-- the band with the highest min_score the score reaches (a join, not a correlated subquery
-- with limit: that does not run on Spark)
bands_reached as (
    select
        scored.county_code,
        scored.year,
        bands.grade,
        row_number() over (
            partition by scored.county_code, scored.year order by bands.min_score desc
        ) as band_rank
    from scored
    inner join bands
        on scored.score >= bands.min_score
),

graded as (
    select
        scored.*,
        bands_reached.grade
    from scored
    left join bands_reached
        on scored.county_code = bands_reached.county_code
            and scored.year = bands_reached.year
            and bands_reached.band_rank = 1
),

final as (
    select
        graded.county_code,
        coalesce(area_names.area_name, graded.county_code) as county_name,
        {{ city_code('graded.county_code') }} as city_code,
        graded.year,
        -- the scored year as dates for BI time axes (2024 = 2024-01-01 .. 2024-12-31)
        cast({{ dbt.concat(["cast(graded.year as " ~ dbt.type_string() ~ ")", "'-01-01'"]) }} as date) as period_start,
        cast({{ dbt.concat(["cast(graded.year as " ~ dbt.type_string() ~ ")", "'-12-31'"]) }} as date) as period_end,
        graded.score,
        graded.grade,
        cast(rank() over (partition by graded.year, {{ city_code('graded.county_code') }} order by graded.score desc) as bigint) as rank_in_city,
        cast(rank() over (partition by graded.year, {{ province_code('graded.county_code') }} order by graded.score desc) as bigint) as rank_in_province,
        cast(rank() over (partition by graded.year, {{ province_code('graded.county_code') }} order by graded.score desc) as bigint) as rank,
        graded.indicators_scored,
        graded.indicators_in_rules,
        graded.attainment_detail
    from graded
    left join area_names
        on graded.county_code = area_names.area_code
)

select * from final
