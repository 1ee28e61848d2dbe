{#- One county x period numerator/denominator model over the signed daily settlement sums
    (int_settlements__daily): each settlement row counts in the period of its own setl_time,
    reversals with a minus sign, pharmacies excluded. `numerator` and `denominator` are
    columns of int_settlements__daily. Used by I08-I11, S01, S02 and the S04 cost level. -#}
{% macro settlement_indicator(indicator_code, numerator, denominator) -%}
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

daily as (
    select * from {{ ref('int_settlements__daily') }}
),

final as (
    select
        county_periods.county_code,
        county_periods.period,
        '{{ indicator_code }}' as indicator_code,
        {{ to_double('coalesce(sum(daily.' ~ numerator ~ '), 0)') }} as numerator,
        {{ to_double('coalesce(sum(daily.' ~ denominator ~ '), 0)') }} as denominator
    from county_periods
    left join daily
        on daily.insured_county_code = county_periods.county_code
        and {{ period_contains('county_periods', 'daily.setl_date') }}
    group by county_periods.county_code, county_periods.period
)

select * from final
{%- endmacro %}
