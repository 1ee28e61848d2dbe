-- Growth indicators at every area level, from the (rolled-up) level of the period and of the
-- same period a year earlier: numerator = difference, denominator = the earlier level. Null
-- when the earlier period is missing or its level is null.
-- Which growth of which level: the catalogue's base_indicator (growth_bases() of
-- macros/indicator_registry.sql); the level may be one that is not published.
{%- set growth_of = growth_bases() %}
with

levels as (
    select
        levels.*,
        case
            {%- for growth, base in growth_of.items() %}
                when levels.indicator_code = '{{ base }}' then '{{ growth }}'
            {%- endfor %}
        end as growth_code
    from {{ ref('int_indicator_values__ratio_of_sums') }} as levels
    where levels.indicator_code in ({{ sql_list(growth_of.values() | list) }})
),

periods as (
    select * from {{ ref('int_periods') }}
),

with_previous as (
    select
        levels.area_level,
        levels.area_code,
        levels.period,
        levels.growth_code,
        levels.value as current_value,
        previous.value as previous_value
    from levels
    inner join periods
        on levels.period = periods.period
    left join periods as previous_period
        on previous_period.year = periods.year - 1
            and coalesce(previous_period.quarter, 0) = coalesce(periods.quarter, 0)
    left join levels as previous
        on levels.area_level = previous.area_level
            and levels.area_code = previous.area_code
            and levels.indicator_code = previous.indicator_code
            and previous_period.period = previous.period
),

final as (
    select
        area_level,
        area_code,
        period,
        growth_code as indicator_code,
        case when previous_value is not null then current_value - previous_value end as numerator,
        previous_value as denominator,
        case
            when previous_value is not null then {{ safe_divide('current_value - previous_value', 'previous_value') }}
        end as value,
        cast(null as {{ dbt.type_string() }}) as status
    from with_previous
)

select * from final
