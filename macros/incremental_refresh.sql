{#- Incremental quarterly refresh, keyed by delivery period (`_period` of the raw tables).

    The heavy intermediate models are incremental (config below). `ygt run` sets the
    environment variable YGT_REFRESH_PERIODS to a JSON list of the delivery periods landed since
    the last successful build (orchestration/refresh.py). On an incremental run the model's
    select, filtered with `in_refresh('_period')`, recomputes just those periods and they
    replace the old rows (refresh_by_period_config below: a delete pre-hook on DuckDB, a
    partition overwrite on Spark). Unset or `null`, or on a first /
    --full-refresh build, every period is recomputed.
    An environment variable, not a dbt var: a changed var makes dbt re-parse the whole project,
    a changed env var only the few files that read it (the cost: bench/README.md). -#}

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
    {{ return(adapter.dispatch('delete_refreshed_periods', 'ygt')()) }}
{%- endmacro %}

{% macro default__delete_refreshed_periods() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_refresh('_period') }}
    {%- endif -%}
{%- endmacro %}

{#- Spark: nothing to delete, insert_overwrite replaces the partitions (below). -#}
{% macro spark__delete_refreshed_periods() -%}
{%- endmacro %}

{#- The model config of an incremental model keyed by `_period`:
    `config(materialized='incremental', **refresh_by_period_config())`.
    DuckDB: append after the delete pre-hook above. Spark: a Parquet table partitioned by
    `_period`, and insert_overwrite with dynamic partition overwrite replaces the partitions
    the select returns (plain Parquet tables support no delete; Delta/Iceberg are not needed).
    A refreshed period that now yields no row at all keeps its old partition on Spark: run
    with --full-refresh after withdrawing a whole period (docs/scale.md). -#}
{% macro refresh_by_period_config() -%}
    {{ return(adapter.dispatch('refresh_by_period_config', 'ygt')()) }}
{%- endmacro %}

{% macro default__refresh_by_period_config() -%}
    {{ return({'incremental_strategy': 'append', 'pre_hook': '{{ delete_refreshed_periods() }}'}) }}
{%- endmacro %}

{% macro spark__refresh_by_period_config() -%}
    {{ return({'incremental_strategy': 'insert_overwrite', 'file_format': 'parquet',
               'partition_by': ['_period']}) }}
{%- endmacro %}
