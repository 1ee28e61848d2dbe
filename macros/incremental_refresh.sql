{#- Incremental quarterly refresh, keyed by delivery period (`_period` of the raw tables).

    The heavy intermediate models are incremental (config below). `ygt run` sets the
    environment variable YGT_REFRESH_PERIODS to a JSON list of the delivery periods landed since
    the last successful build (orchestration/refresh.py). On an incremental run the model's
    pre-hook deletes the rows of those periods and its select, filtered with
    `in_refresh('_period')`, recomputes just them. Unset or `null`, or on a first /
    --full-refresh build, every period is recomputed.
    An environment variable, not a dbt var: a changed var makes dbt re-parse the whole project
    (~3 s per build); a changed env var only the few files that read it. -#}

{% macro refresh_periods() -%}
    {{ return(fromjson(env_var('YGT_REFRESH_PERIODS', 'null'))) }}
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
