{#- One county x period numerator/denominator model summing a daily table over the days of
    each period: `numerator` and `denominator` are columns of `daily_model`, summed where its
    `county_column` is the county and its `date_column` lies in the period (0 when no row).
    Used through summed_indicator by every indicator whose folder declares a facility_sum
    (rendered into summed_indicators() of macros/indicator_registry.sql). -#}
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

{#- Per family: the county x day model, the facility model (same columns plus the facility),
    and the county, date and facility columns. Visits and discharges belong to the county of
    the facility; settlements to the insured's county (facility anywhere). A family without a
    daily model (remote) only feeds marts.indicator_breakdown. -#}
{% macro summed_families() -%}
    {{ return({
        'visits': {'daily': 'int_visits__daily', 'by_facility': 'int_visits__by_facility',
                   'county': 'county_code', 'date': 'visit_date', 'facility': 'org_code'},
        'settlements': {'daily': 'int_settlements__daily', 'by_facility': 'int_settlements__by_facility',
                        'county': 'insured_county_code', 'date': 'setl_date', 'facility': 'fixmedins_code'},
        'discharges': {'daily': 'int_discharges__by_facility', 'by_facility': 'int_discharges__by_facility',
                       'county': 'county_code', 'date': 'discharge_date', 'facility': 'org_code'},
        'remote': {'by_facility': 'int_remote__by_facility', 'county': 'county_code',
                   'date': 'reported_date', 'facility': 'requesting_org_code'},
    }) }}
{%- endmacro %}

{#- The county x period model of a summed indicator (facility_sum of its folder's meta). -#}
{% macro summed_indicator(indicator_code) -%}
{%- set family, numerator, denominator = summed_indicators()[indicator_code] -%}
{%- set f = summed_families()[family] -%}
{{ period_sum_indicator(indicator_code, f.daily, f.county, f.date, numerator, denominator) }}
{%- endmacro %}

{#- The signed settlement measures (name, expression over int_settlements__signed rows),
    defined once: int_settlements__by_facility sums the expressions, int_settlements__daily
    sums those sums over the facilities. A share on these measures needs no edit here; a new
    measure is one more entry. -#}
{% macro settlement_measures() -%}
    {{ return([
        ('pooled_fund', 'pooled_fund'),
        ('pooled_fund_in_county', 'case when is_in_county then pooled_fund else 0 end'),
        ('pooled_fund_in_county_primary_care', 'case when is_in_county and is_facility_primary_care then pooled_fund else 0 end'),
        ('inpatient_admissions', 'case when is_inpatient then admission_sign else 0 end'),
        ('inpatient_admissions_in_county', 'case when is_inpatient and is_in_county then admission_sign else 0 end'),
        ('inpatient_cost_in_county', 'case when is_inpatient and is_in_county then total_cost else 0 end'),
        ('inpatient_pooled_fund_in_county', 'case when is_inpatient and is_in_county then pooled_fund else 0 end'),
        ('inpatient_admissions_in_county_primary_care', 'case when is_inpatient and is_in_county and is_facility_primary_care then admission_sign else 0 end'),
        ('inpatient_cost_in_county_primary_care', 'case when is_inpatient and is_in_county and is_facility_primary_care then total_cost else 0 end'),
        ('settlements', 'admission_sign'),
        ('settlements_in_county', 'case when is_in_county then admission_sign else 0 end'),
    ]) }}
{%- endmacro %}
