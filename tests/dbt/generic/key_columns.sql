{#- A model's row contract in one query, one dbt node where a key test and a not-null test
    were two (each node costs dbt ~35 ms whatever its size: bench/README.md, "Measured
    choices"): the `key` columns together identify a row, and none of the `required` columns
    is null. A failing row is a key value shared by several rows (`n_rows` > 1) or holding rows
    that lack a required column (`n_missing` of them). -#}
{% test key_columns(model, key, required=[]) %}

with

grouped as (
    select
        {{ key | join(', ') }},
        count(*) as n_rows,
        {% if required -%}
            sum(case when {% for column in required -%}
                {{ column }} is null{{ " or " if not loop.last }}
            {%- endfor %} then 1 else 0 end)
        {%- else -%}
            0
        {%- endif %} as n_missing
    from {{ model }}
    group by {{ key | join(', ') }}
)

select *
from grouped
where n_rows > 1 or n_missing > 0

{% endtest %}
