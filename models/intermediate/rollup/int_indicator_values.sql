-- Every computed indicator value at every area level, one row per
-- (area_level, area_code, period, indicator_code). The mart adds names, units and the rows
-- with no value. The roll-up models come from the catalogue (macros/indicator_registry.sql).
{%- set families = indicator_rollup_models() %}
with

unioned as (
    {%- for m in families %}
        select
            area_level,
            area_code,
            period,
            indicator_code,
            numerator,
            denominator,
            value,
            status
        from {{ ref(m) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select * from unioned
