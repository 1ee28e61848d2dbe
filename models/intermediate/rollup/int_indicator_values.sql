-- Every computed indicator value at every area level, one row per
-- (area_level, area_code, period, indicator_code). The mart adds names, units and the rows
-- with no value. The roll-up models come from the catalogue (macros/indicator_registry.sql).
{%- set families = indicator_rollup_models() %}
with

unioned as (
    {{ union_all_of(families, ['area_level', 'area_code', 'period', 'indicator_code',
                               'numerator', 'denominator', 'value', 'status']) }}
)

select * from unioned
