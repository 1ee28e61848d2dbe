-- Every computed indicator value at every area level, one row per
-- (area_level, area_code, period, indicator_code). The mart adds names, units and the rows
-- with no value. New indicator families are added here as one more union branch.
{%- set families = [
    'int_indicator_values__shares', 'int_indicator_values__ratio_of_sums',
    'int_indicator_values__i06', 'int_indicator_values__growth', 'int_indicator_values__i14',
] %}
with

unioned as (
    {%- for m in families %}
    select area_level, area_code, period, indicator_code, numerator, denominator, value, status
    from {{ ref(m) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from unioned
