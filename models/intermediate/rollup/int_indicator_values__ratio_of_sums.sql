-- Indicators whose value is numerator / denominator, at every area level: county rows are
-- joined to the area hierarchy and numerators and denominators are summed, never averaged.
-- The county rows: int_county_ratio_parts, the union of the county models the catalogue
-- routes here (macros/indicator_registry.sql): see docs/adding-an-indicator.md.
with

county_values as (
    select * from {{ ref('int_county_ratio_parts') }}
),

areas as (
    select * from {{ ref('int_areas') }}
),

summed as (
    select
        areas.area_level,
        areas.area_code,
        county_values.period,
        county_values.indicator_code,
        sum(county_values.numerator) as numerator,
        sum(county_values.denominator) as denominator
    from county_values
    inner join areas
        on county_values.county_code = areas.county_code
    group by areas.area_level, areas.area_code, county_values.period, county_values.indicator_code
),

final as (
    select
        area_level,
        area_code,
        period,
        indicator_code,
        numerator,
        denominator,
        {{ safe_divide('numerator', 'denominator') }} as value,
        cast(null as {{ dbt.type_string() }}) as status
    from summed
)

select * from final
