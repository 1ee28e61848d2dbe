-- I06 at every area level from pooled incomes and head-counts: numerator = per-head income at
-- public consortium-member primary-care facilities, denominator = per-head income at lead
-- hospitals, value = numerator / denominator.
with

county_values as (
    select * from {{ ref('int_indicator__i06') }}
),

areas as (
    select * from {{ ref('int_areas') }}
),

pooled as (
    select
        areas.area_level,
        areas.area_code,
        county_values.period,
        sum(county_values.primary_care_income) as primary_care_income,
        sum(county_values.primary_care_heads) as primary_care_heads,
        sum(county_values.lead_hospital_income) as lead_hospital_income,
        sum(county_values.lead_hospital_heads) as lead_hospital_heads
    from county_values
    inner join areas
        on county_values.county_code = areas.county_code
    group by areas.area_level, areas.area_code, county_values.period
),

per_head as (
    select
        area_level,
        area_code,
        period,
        {{ safe_divide('primary_care_income', 'primary_care_heads') }} as numerator,
        {{ safe_divide('lead_hospital_income', 'lead_hospital_heads') }} as denominator
    from pooled
),

final as (
    select
        area_level,
        area_code,
        period,
        'I06' as indicator_code,
        numerator,
        denominator,
        {{ safe_divide('numerator', 'denominator') }} as value,
        cast(null as {{ dbt.type_string() }}) as status
    from per_head
)

select * from final
