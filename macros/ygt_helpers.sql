{#- Small SQL helpers shared by the models. Portable: each one is plain ANSI SQL or a dbt
    cross-database macro, so the models can move to another adapter; where the engines differ,
    a dispatched macro (duckdb__ / spark__ variants here and in macros/spark.sql). -#}

{#- A double-precision type (dbt.type_float() is single precision on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'ygt')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#- string_agg of `measure` ordered by `order_by`, separated by `delimiter` (a SQL literal).
    dbt.listagg ignores the order on Spark, hence the dispatch. -#}
{% macro listagg_ordered(measure, delimiter, order_by) -%}
    {{ return(adapter.dispatch('listagg_ordered', 'ygt')(measure, delimiter, order_by)) }}
{%- endmacro %}

{% macro default__listagg_ordered(measure, delimiter, order_by) -%}
    {{ dbt.listagg(measure, delimiter, 'order by ' ~ order_by) }}
{%- endmacro %}

{#- DuckDB: the values collected unordered and each group's list sorted (by the order, NULLs
    last as ORDER BY puts them, then by value): an ordered string_agg sorts inside the hash
    aggregate and cost three times as much (reconciliation.i13_admitted_persons at 50M
    visits, built alone: 10.3 -> 3.3 s, bench/README.md). Same text; NULL values are skipped, and a group
    without any gives NULL, as string_agg does. -#}
{% macro duckdb__listagg_ordered(measure, delimiter, order_by) -%}
    array_to_string(list_transform(
        list_sort(list({'last': ({{ order_by }}) is null, 'k': {{ order_by }}, 'v': {{ measure }}})),
        x -> x.v), {{ delimiter }})
{%- endmacro %}

{% macro spark__listagg_ordered(measure, delimiter, order_by) -%}
    array_join(transform(
        array_sort(collect_list(named_struct('k', {{ order_by }}, 'v', {{ measure }}))),
        x -> x.v), {{ delimiter }})
{%- endmacro %}

{#- A quoted SQL list from a var (string or list): ['11', '12'] -> '11', '12' -#}
{% macro sql_list(values) -%}
    {%- if values is string -%}{%- set values = [values] -%}{%- endif -%}
    {%- for v in values -%}'{{ v | string | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%}
{%- endmacro %}

{#- numerator / denominator as a double; null when the denominator is null or 0. -#}
{% macro safe_divide(numerator, denominator) -%}
    case
        when {{ denominator }} is null or {{ denominator }} = 0 then null
        else cast({{ numerator }} as {{ type_double() }}) / cast({{ denominator }} as {{ type_double() }})
    end
{%- endmacro %}

{% macro to_double(expr) -%}
    cast({{ expr }} as {{ type_double() }})
{%- endmacro %}

{#- Does the period (alias with period_start / period_end dates) contain the date or timestamp? -#}
{% macro period_contains(period_alias, event_expr) -%}
    ({{ event_expr }} >= {{ period_alias }}.period_start
        and {{ event_expr }} < {{ dbt.dateadd('day', 1, period_alias ~ '.period_end') }})
{%- endmacro %}

{#- Completed years of age at a date. -#}
{% macro age_in_years(birth_date, at_date) -%}
    ({{ dbt.datediff(birth_date, at_date, 'year') }}
        - case
            when extract(month from {{ at_date }}) * 100 + extract(day from {{ at_date }})
                < extract(month from {{ birth_date }}) * 100 + extract(day from {{ birth_date }})
                then 1
            else 0
        end)
{%- endmacro %}

{#- First three characters of an ICD-10 code (upper case, dot removed): 'i10.x' -> 'I10'. -#}
{% macro icd10_category(code) -%}
    upper(substring(replace(trim({{ code }}), '.', ''), 1, 3))
{%- endmacro %}

{#- Inpatient settlement: med_type starts with a var prefix or is one of the var codes. -#}
{% macro is_inpatient_med_type(med_type) -%}
    (
        {%- for p in var('inpatient_med_type_prefixes') %}
        {{ med_type }} like '{{ p }}%' or
        {%- endfor %}
        {{ med_type }} in ({{ sql_list(var('inpatient_med_types')) }})
    )
{%- endmacro %}

{#- Area codes (GB/T 2260): city = first 4 digits + '00', province = first 2 + '0000'. -#}
{% macro city_code(county_code) -%}
    {{ dbt.concat(['substring(' ~ county_code ~ ', 1, 4)', "'00'"]) }}
{%- endmacro %}

{% macro province_code(county_code) -%}
    {{ dbt.concat(['substring(' ~ county_code ~ ', 1, 2)', "'0000'"]) }}
{%- endmacro %}

{#- WHO premature-mortality life table, as an aggregate over one row per age group:
    M = deaths / population, 5q_x = 5 M / (1 + 2.5 M), value = 1 - prod(1 - 5q_x), the product
    taken as exp(sum(ln(.))). Null unless every age group of the seed life_table_age_groups has
    a positive population. A 5q_x >= 1 (M >= 0.4) makes the value 1. -#}
{#- In double precision on every engine (Spark would keep DECIMAL literals exact and round
    differently). -#}
{% macro five_q_x(deaths, population) -%}
    (5 * {{ to_double(deaths) }} / nullif({{ to_double(population) }}, 0)
        / (1 + 2.5 * {{ to_double(deaths) }} / nullif({{ to_double(population) }}, 0)))
{%- endmacro %}

{% macro premature_mortality(deaths, population, age_group, n_age_groups) -%}
    case
        when count(distinct case when {{ population }} > 0 then {{ age_group }} end) < {{ n_age_groups }} then null
        when max({{ five_q_x(deaths, population) }}) >= 1 then 1.0
        else 1 - exp(sum(ln(case
            when {{ five_q_x(deaths, population) }} < 1 then 1 - {{ five_q_x(deaths, population) }}
            else 1
        end)))
    end
{%- endmacro %}

{#- A var's value as text, the way seeds/parameters.csv writes defaults: lists joined with '|',
    booleans lower case. -#}
{% macro var_as_text(value) -%}
    {%- if value is string -%}{{ value }}
    {%- elif value is sameas true or value is sameas false -%}{{ value | string | lower }}
    {%- elif value is iterable -%}{{ value | join('|') }}
    {%- else -%}{{ value }}
    {%- endif -%}
{%- endmacro %}

{#- The rows of `models` (models with the same columns) stacked: `columns` of each, union all. -#}
{% macro union_all_of(models, columns) -%}
    {%- for m in models %}
        select {{ columns | join(', ') }}
        from {{ ref(m) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
{%- endmacro %}
