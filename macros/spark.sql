{#- Spark (dbt-spark) specifics. The models are the same on every engine; what differs lives
    here and in the spark__ variants of macros/ygt_helpers.sql and incremental_refresh.sql.
    docs/scale.md says how a national platform runs them. -#}

{#- Register the raw Parquet hand-over (orchestration/handover.py) as tables raw.<name>:
    `dbt run-operation register_raw_handover --args '{root: /data/handover}' --target spark`.
    Columns and types come from the dbt sources (models/staging/_sources.yml, rendered from
    the raw contract); a table with a `_period` column is partitioned by it and its partition
    folders are (re)discovered, so re-running this after new deliveries arrive picks them up. -#}
{% macro register_raw_handover(root) %}
    {%- if target.type != 'spark' -%}
        {{ exceptions.raise_compiler_error("register_raw_handover is for a Spark target (--target spark)") }}
    {%- endif -%}
    {%- set root = root | string | replace('\\', '/') -%}
    {%- set tables = graph.sources.values() | selectattr('source_name', 'equalto', 'raw') | list -%}
    {%- if not tables -%}
        {{ exceptions.raise_compiler_error("no raw sources in the project") }}
    {%- endif -%}
    {%- do run_query('create database if not exists ' ~ tables[0].schema) -%}
    {%- for source in tables -%}
        {%- set names = source.columns.keys() | list -%}
        {%- set columns = [] -%}
        {%- for column in source.columns.values() -%}
            {%- set dtype = column.data_type | lower -%}
            {%- do columns.append(column.name ~ ' ' ~ ('string' if dtype == 'varchar' else dtype)) -%}
        {%- endfor -%}
        {%- set relation = source.schema ~ '.' ~ source.identifier -%}
        {%- set partitioned = '_period' in names -%}
        {%- do run_query('drop table if exists ' ~ relation) -%}
        {%- do run_query(
            'create table ' ~ relation ~ ' (' ~ columns | join(', ') ~ ') using parquet '
            ~ ('partitioned by (_period) ' if partitioned else '')
            ~ "location '" ~ root ~ '/' ~ source.identifier ~ "'") -%}
        {%- if partitioned -%}
            {%- do run_query('msck repair table ' ~ relation) -%}
        {%- endif -%}
        {{ log('registered ' ~ relation ~ ' at ' ~ root ~ '/' ~ source.identifier, info=true) }}
    {%- endfor -%}
{% endmacro %}

{#- Seeds on Spark: dbt-spark's session method pastes each value into the SQL unescaped and
    writes empty cells as the string 'None' (dbt-labs/dbt-adapters#487). Render the literals
    here instead: null for empty cells, Spark string escaping (backslash) for the rest. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    {%- set value = row[loop.index0] -%}
                    cast({{ spark_seed_literal(value) }} as {{ type }}){{ ',' if not loop.last }}
                {%- endfor -%}){{ ',' if not loop.last }}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}{%- do statements.append(sql) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}

{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ value | string | replace('\\', '\\\\') | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
