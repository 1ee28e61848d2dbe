-- marts.indicator_parameters — one row per parameter of the computation rules (seed
-- parameters): the value in force for this build (a dbt var as overridden with YGT_DBT_VARS,
-- lists joined with '|'; for a seed, its file) and the indicators it affects, so the
-- published file alone says which parameters produced its values.
{%- set var_names = [] %}
{#- without the seed table (sqlfluff's lint compiles without a build) the defaults are shown #}
{%- if execute and load_relation(ref('parameters')) is not none %}
{%- set result = run_query("select parameter from " ~ ref('parameters') ~ " where kind = 'var' order by parameter") %}
{%- for row in result.rows %}{% do var_names.append(row[0]) %}{% endfor %}
{%- endif %}
with

parameters as (
    select * from {{ ref('parameters') }}
),

final as (
    select
        parameter,
        kind,
        {%- if var_names %}
            case parameter
                {%- for name in var_names %}
                when '{{ name }}' then '{{ var_as_text(var(name)) | replace("'", "''") }}'
                {%- endfor %}
                else cast(default_value as {{ dbt.type_string() }})
            end as value,
        {%- else %}
            cast(default_value as {{ dbt.type_string() }}) as value,
        {%- endif %}
        cast(default_value as {{ dbt.type_string() }}) as default_value,
        indicators,
        description
    from parameters
)

select * from final
