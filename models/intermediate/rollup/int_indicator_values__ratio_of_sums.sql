-- Indicators whose value is numerator / denominator, at every area level: county rows are
-- joined to the area hierarchy and numerators and denominators are summed, never averaged.
-- To add an indicator of this kind (S01, S02, ...): write its county x period model with
-- (county_code, period, indicator_code, numerator, denominator) and list it here.
{%- set county_models = [
    'int_indicator__i04', 'int_indicator__i05ab', 'int_indicator__i05c', 'int_indicator__i07', 'int_indicator__i08',
    'int_indicator__i09', 'int_indicator__i10a', 'int_indicator__i11', 'int_indicator__i12',
    'int_indicator__i13', 'int_indicator__s01', 'int_indicator__s02', 'int_indicator__s03',
    'int_indicator__s04_cost', 'int_indicator__s05',
] %}
with

county_values as (
    {%- for m in county_models %}
    select county_code, period, indicator_code, numerator, denominator from {{ ref(m) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
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
        on areas.county_code = county_values.county_code
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
