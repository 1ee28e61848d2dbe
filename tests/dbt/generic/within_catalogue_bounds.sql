{#- Every non-null value of an indicator lies within the bounds its catalogue row gives
    (seed indicator_definitions: value_min, value_max, bounds_severity). One test per
    bounds_severity, so plausibility bounds can warn while hard bounds (a share is 0-1) fail. -#}
{% test within_catalogue_bounds(model, column_name, bounds_severity='error') %}

with

catalogue as (
    select * from {{ ref('indicator_definitions') }}
    where bounds_severity = '{{ bounds_severity }}'
)

select tested.*
from {{ model }} as tested
inner join catalogue
    on catalogue.indicator_code = tested.indicator_code
where tested.{{ column_name }} is not null
    and (tested.{{ column_name }} < catalogue.value_min or tested.{{ column_name }} > catalogue.value_max)

{% endtest %}
