-- marts.indicator_breakdown — one row per county x period x indicator x facility for the
-- indicators that are sums over facilities (breakdown_indicators(): seed breakdown_indicator =
-- the code itself; measures from the facility_sum of its folder, summed_indicators()): the
-- facility's contribution to the county's numerator and denominator, from the same facility
-- tables (int_*__by_facility) the county values sum, so per county they add up exactly to
-- marts.indicator_values. A facility sum without a denominator measure (per 10,000 residents:
-- the population is not a sum over facilities) has a null denominator; only its numerator
-- adds up. Facilities with nothing to contribute (both 0) are left out. City and province
-- break-downs are sums of these county rows; national rows are omitted for size. A growth
-- rate is not a sum over facilities: explain shows the breakdown of its level.
-- Visits and discharges: the county of the facility. Settlements: the insured's county; the
-- facility is the settlement's fixmedins_code — when registered that year its org code, name,
-- category and county from the register, else the code and fixmedins_name as sent
-- (category and county null).
{%- set breakdown_codes = breakdown_indicators() %}
{%- set families = summed_families() %}
{%- set indicators = summed_indicators() %}
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

register as (
    select * from {{ ref('int_facilities__by_year') }}
),

area_names as (
    select * from {{ ref('int_area_names') }}
),

{%- for family, f in families.items() %}
{%- set columns = [] %}
{%- for code in breakdown_codes if indicators[code][0] == family %}
{%- for c in indicators[code][1:] if c and c not in columns %}{% do columns.append(c) %}{% endfor %}
{%- endfor %}
{%- if columns %}

{{ family }}_by_facility as (
    select
        county_periods.county_code,
        county_periods.period,
        facts.{{ f.facility }} as source_facility_code,
        {%- if family == 'settlements' %}
        max(facts.facility_org_code) as org_code,
        max(facts.facility_county_code) as facility_county_code,
        max(facts.fixmedins_name) as source_facility_name,
        {%- else %}
        facts.{{ f.facility }} as org_code,
        max(facts.county_code) as facility_county_code,
        cast(null as {{ dbt.type_string() }}) as source_facility_name,
        {%- endif %}
        {%- for c in columns %}
        sum(facts.{{ c }}) as {{ c }}{{ "," if not loop.last }}
        {%- endfor %}
    from county_periods
    inner join {{ ref(f.by_facility) }} as facts
        on facts.{{ f.county }} = county_periods.county_code
        and {{ period_contains('county_periods', 'facts.' ~ f.date) }}
    group by county_periods.county_code, county_periods.period, facts.{{ f.facility }}
),
{%- endif %}
{%- endfor %}

contributions as (
    {%- for code in breakdown_codes %}
    {%- set family, numerator, denominator = indicators[code] %}
    select
        county_code,
        period,
        '{{ code }}' as indicator_code,
        source_facility_code,
        org_code,
        facility_county_code,
        source_facility_name,
        {{ to_double(numerator) }} as numerator,
        {%- if denominator %}
        {{ to_double(denominator) }} as denominator
    from {{ family }}_by_facility
    where {{ numerator }} <> 0 or {{ denominator }} <> 0
        {%- else %}
        cast(null as {{ type_double() }}) as denominator
    from {{ family }}_by_facility
    where {{ numerator }} <> 0
        {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        'county' as area_level,
        contributions.county_code as area_code,
        coalesce(area_names.area_name, contributions.county_code) as area_name,
        contributions.period,
        county_periods.year,
        county_periods.quarter,
        contributions.indicator_code,
        coalesce(contributions.org_code, contributions.source_facility_code) as facility_code,
        coalesce(register.org_name, contributions.source_facility_name) as facility_name,
        register.category_code as facility_category,
        contributions.facility_county_code,
        contributions.numerator,
        contributions.denominator
    from contributions
    inner join county_periods
        on county_periods.county_code = contributions.county_code
        and county_periods.period = contributions.period
    left join register
        on register.year = county_periods.year
        and register.org_code = contributions.org_code
    left join area_names
        on area_names.area_code = contributions.county_code
)

select * from final
