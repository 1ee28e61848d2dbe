-- I01 - I03 per county x annual period: value = share of checklist items met (of the seed
-- qualitative_items), status 达标 (all met) / 部分达标 (some) / 未达标 (none). A county-year with no
-- assessment of the indicator has every item missing, so none met: value 0, 未达标.
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
    where is_annual
),

indicators as (
    select
        indicator_code,
        count(*) as items
    from {{ ref('qualitative_items') }}
    group by indicator_code
),

items as (
    select * from {{ ref('int_qualitative__items') }}
),

per_county as (
    select
        county_code,
        year,
        indicator_code,
        sum(case when is_met then 1 else 0 end) as items_met
    from items
    group by county_code, year, indicator_code
),

final as (
    select
        county_periods.county_code,
        county_periods.period,
        indicators.indicator_code,
        coalesce(per_county.items_met, 0) as items_met,
        indicators.items,
        {{ safe_divide('coalesce(per_county.items_met, 0)', 'indicators.items') }} as value,
        case
            when coalesce(per_county.items_met, 0) = indicators.items then '达标'
            when coalesce(per_county.items_met, 0) > 0 then '部分达标'
            else '未达标'
        end as status
    from county_periods
    cross join indicators
    left join per_county
        on county_periods.county_code = per_county.county_code
            and county_periods.year = per_county.year
            and indicators.indicator_code = per_county.indicator_code
)

select * from final
