{#- One county x period numerator/denominator model summing a daily table over the days of
    each period: `numerator` and `denominator` are columns of `daily_model`, summed where its
    `county_column` is the county and its `date_column` lies in the period (0 when no row).
    Used by I07 and I12 (int_visits__daily) and, through settlement_indicator, by I08-I11,
    S01, S02 and the S04 cost level (int_settlements__daily). -#}
{% macro period_sum_indicator(indicator_code, daily_model, county_column, date_column, numerator, denominator) -%}
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

daily as (
    select * from {{ ref(daily_model) }}
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
        on daily.{{ county_column }} = county_periods.county_code
        and {{ period_contains('county_periods', 'daily.' ~ date_column) }}
    group by county_periods.county_code, county_periods.period
)

select * from final
{%- endmacro %}

{#- Settlement indicators (int_settlements__daily): each settlement row counts in the period of
    its own setl_time, reversals with a minus sign, pharmacies excluded. -#}
{% macro settlement_indicator(indicator_code, numerator, denominator) -%}
{{ period_sum_indicator(indicator_code, 'int_settlements__daily', 'insured_county_code', 'setl_date', numerator, denominator) }}
{%- endmacro %}
