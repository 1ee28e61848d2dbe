{#- Incremental quarterly refresh, keyed by delivery period (`_period` of the raw tables).

    The heavy intermediate models are incremental (config below). `ygt run` passes var
    `refresh_periods`, the delivery periods landed since the last successful build
    (orchestration/refresh.py). On an incremental run the model's pre-hook deletes the rows of
    those periods and its select, filtered with `in_refresh('_period')`, recomputes just them.
    Without the var, or on a first / --full-refresh build, every period is recomputed. -#}

{% macro refresh_periods() -%}
    {{ return(var('refresh_periods', none)) }}
{%- endmacro %}

{#- SQL predicate: is this row's delivery period one to recompute? -#}
{% macro in_refresh(column) -%}
    {%- set periods = refresh_periods() -%}
    {#- unit tests (no `this`) always see the full select -#}
    {%- if periods is not none and this is not none and is_incremental() -%}
        {{ column }} in ({{ sql_list(periods) if periods else "null" }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook: remove the rows that the select is about to recompute. -#}
{% macro delete_refreshed_periods() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_refresh('_period') }}
    {%- endif -%}
{%- endmacro %}
