-- Qualitative indicators (rollup_method share_of_counties_met). County level: the share of items met with its status
-- (numerator and denominator null, as the output contract says). Roll-ups: numerator =
-- counties at 达标, denominator = counties with a value, value = their ratio.
with

county_values as (
    select
        county_code,
        period,
        indicator_code,
        value,
        status,
        status = '达标' as is_met
    from {{ ref('int_indicator__i01_i03') }}
),

areas as (
    select * from {{ ref('int_areas') }}
),

county_level as (
    select
        'county' as area_level,
        county_code as area_code,
        period,
        indicator_code,
        cast(null as {{ type_double() }}) as numerator,
        cast(null as {{ type_double() }}) as denominator,
        value,
        status
    from county_values
),

rolled_up as (
    select
        areas.area_level,
        areas.area_code,
        county_values.period,
        county_values.indicator_code,
        {{ to_double('sum(case when county_values.is_met then 1 else 0 end)') }} as numerator,
        {{ to_double('count(county_values.value)') }} as denominator
    from county_values
    inner join areas
        on county_values.county_code = areas.county_code
            and areas.area_level <> 'county'
    group by areas.area_level, areas.area_code, county_values.period, county_values.indicator_code
),

final as (
    select * from county_level
    union all
    select
        area_level,
        area_code,
        period,
        indicator_code,
        numerator,
        denominator,
        {{ safe_divide('numerator', 'denominator') }} as value,
        cast(null as {{ dbt.type_string() }}) as status
    from rolled_up
)

select * from final
