-- I10b at every area level, from the (rolled-up) I10a of the period and of the same period a
-- year earlier: numerator = difference, denominator = earlier I10a. Null when the earlier
-- period is missing or its I10a is null.
with

i10a as (
    select * from {{ ref('int_indicator_values__ratio_of_sums') }}
    where indicator_code = 'I10a'
),

periods as (
    select * from {{ ref('int_periods') }}
),

with_previous as (
    select
        i10a.area_level,
        i10a.area_code,
        i10a.period,
        i10a.value as current_value,
        previous.value as previous_value
    from i10a
    inner join periods
        on periods.period = i10a.period
    left join periods as previous_period
        on previous_period.year = periods.year - 1
        and coalesce(previous_period.quarter, 0) = coalesce(periods.quarter, 0)
    left join i10a as previous
        on previous.area_level = i10a.area_level
        and previous.area_code = i10a.area_code
        and previous.period = previous_period.period
),

final as (
    select
        area_level,
        area_code,
        period,
        'I10b' as indicator_code,
        case when previous_value is not null then current_value - previous_value end as numerator,
        previous_value as denominator,
        case
            when previous_value is not null then {{ safe_divide('current_value - previous_value', 'previous_value') }}
        end as value,
        cast(null as {{ dbt.type_string() }}) as status
    from with_previous
)

select * from final
