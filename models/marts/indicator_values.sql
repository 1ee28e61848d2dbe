-- marts.indicator_values — one row per area x period x indicator: the public interface (README.md, "For analysts and BI tools"; its columns in models/marts/_marts.yml).
-- The row set is the spine: every area (county, city, province, national) x every period x
-- every implemented indicator of the catalogue whose frequency fits the period (quarterly
-- indicators also get the year-to-date quarter rows). period_start / period_end are the
-- period's first and last day (int_periods: 2024Q2 = 2024-01-01 .. 2024-06-30), so BI tools
-- get a real date axis. Values come from int_indicator_values;
-- a spine row without a value keeps value null. Names come from int_area_names (seed
-- area_names, then the GB/T 2260 register); a code missing from both is its own name.
with

areas as (
    select distinct
        area_level,
        area_code,
        level_rank
    from {{ ref('int_areas') }}
),

periods as (
    select * from {{ ref('int_periods') }}
),

catalog as (
    select * from {{ ref('indicator_definitions') }}
    where implemented
),

area_names as (
    select * from {{ ref('int_area_names') }}
),

values_ as (
    select * from {{ ref('int_indicator_values') }}
),

spine as (
    select
        areas.area_level,
        areas.area_code,
        areas.level_rank,
        periods.period,
        periods.year,
        periods.quarter,
        periods.period_start,
        periods.period_end,
        catalog.indicator_code,
        catalog.unit
    from areas
    cross join periods
    inner join catalog
        on periods.is_annual or catalog.frequency = 'quarterly'
),

final as (
    select
        spine.area_level,
        spine.area_code,
        coalesce(area_names.area_name, spine.area_code) as area_name,
        spine.period,
        spine.year,
        spine.quarter,
        spine.period_start,
        spine.period_end,
        spine.indicator_code,
        values_.numerator,
        values_.denominator,
        values_.value,
        spine.unit,
        values_.status
    from spine
    left join values_
        on spine.area_level = values_.area_level
            and spine.area_code = values_.area_code
            and spine.period = values_.period
            and spine.indicator_code = values_.indicator_code
    left join area_names
        on spine.area_code = area_names.area_code
)

select * from final
order by area_level, area_code, period, indicator_code
