-- I14 (annual) and I14p (pooled over i14_pooled_years years) at every area level. Deaths and
-- population are pooled per age group (over counties, and for I14p over years), then the WHO
-- life table is applied (macro premature_mortality). numerator and denominator are null (the
-- value is a probability, not a ratio of two counts). Null unless the years are delivered and
-- every age group has population.
{%- set n_years = var('i14_pooled_years') %}
with

age_rows as (
    select * from {{ ref('int_mortality__age_groups') }}
),

areas as (
    select * from {{ ref('int_areas') }}
),

n_age_groups as (
    select count(*) as n from {{ ref('life_table_age_groups') }}
),

years as (
    select distinct
        year,
        is_delivered
    from age_rows
),

windows as (
    -- (report year, contributing year, pooled indicator code)
    select
        year as report_year,
        year,
        'I14' as indicator_code
    from years
    where is_delivered
    union all
    select
        report_years.year as report_year,
        contributing.year,  -- noqa: AL09 (names the union's column)
        'I14p' as indicator_code
    from years as report_years
    inner join years as contributing
        on contributing.year between report_years.year - {{ n_years - 1 }} and report_years.year
    where (
        select count(*)
        from years as delivered
        where delivered.is_delivered
            and delivered.year between report_years.year - {{ n_years - 1 }} and report_years.year
    ) = {{ n_years }}
),

pooled_age_groups as (
    select
        areas.area_level,
        areas.area_code,
        windows.report_year,
        windows.indicator_code,
        age_rows.age_group,
        sum(age_rows.deaths) as deaths,
        sum(age_rows.population) as population
    from windows
    inner join age_rows
        on windows.year = age_rows.year
    inner join areas
        on age_rows.county_code = areas.county_code
    group by areas.area_level, areas.area_code, windows.report_year, windows.indicator_code, age_rows.age_group
),

life_table as (
    select
        area_level,
        area_code,
        report_year,
        indicator_code,
        sum(deaths) as deaths,
        sum(population) as population,
        {{ premature_mortality('deaths', 'population', 'age_group', '(select n from n_age_groups)') }} as value
    from pooled_age_groups
    group by area_level, area_code, report_year, indicator_code
),

final as (
    select
        area_level,
        area_code,
        cast(report_year as {{ dbt.type_string() }}) as period,
        indicator_code,
        cast(null as {{ type_double() }}) as numerator,
        cast(null as {{ type_double() }}) as denominator,
        -- rounded to 12 decimals so results are reproducible across engines and unit-testable
        round({{ to_double('value') }}, 12) as value,
        cast(null as {{ dbt.type_string() }}) as status
    from life_table
)

select * from final
