{#- None of the columns is null: one query for all of a model's required columns, where a
    not_null test per column cost a dbt node each (bench/README.md, "Measured choices"). The
    failing rows show which column is empty. -#}
{% test not_null_columns(model, columns) %}

select {{ columns | join(', ') }}
from {{ model }}
where
    {% for column in columns -%}
        {{ column }} is null{{ " or" if not loop.last }}
    {% endfor %}

{% endtest %}
