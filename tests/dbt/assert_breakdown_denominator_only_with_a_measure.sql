-- A facility row of marts.indicator_breakdown has a denominator exactly when its indicator's
-- facility sum names a denominator measure (summed_indicators(), rendered from the folders):
-- per 10,000 residents, the population is not a sum over facilities.
{%- set without = [] %}
{%- for code, s in summed_indicators().items() if not s[2] %}{% do without.append(code) %}{% endfor %}
{%- set no_measure = "indicator_code in (" ~ sql_list(without) ~ ")" if without else "false" %}
select
    area_code,
    period,
    indicator_code,
    facility_code,
    denominator
from {{ ref('indicator_breakdown') }}
where
    case when {{ no_measure }} then 1 else 0 end
    <> case when denominator is null then 1 else 0 end
