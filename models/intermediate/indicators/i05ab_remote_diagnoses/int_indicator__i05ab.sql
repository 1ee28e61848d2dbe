-- I05a and I05b per county x period (quarterly, year-to-date): remote diagnoses counted in
-- int_remote__counted_reports with reported_at in the period — all modalities for I05a, the
-- ECG ones for I05b — per 10,000 residents (the county's total resident population of the
-- period's year / population_per).
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

reports as (
    select * from {{ ref('int_remote__counted_reports') }}
),

population as (
    select * from {{ ref('int_county_population') }}
),

counted as (
    select
        county_periods.county_code,
        county_periods.period,
        count(reports.request_id) as reports,
        sum(case when reports.is_ecg then 1 else 0 end) as ecg_reports
    from county_periods
    left join reports
        on county_periods.county_code = reports.county_code
            and {{ period_contains('county_periods', 'reports.reported_at') }}
    group by county_periods.county_code, county_periods.period
),

per_county as (
    select
        county_periods.county_code,
        county_periods.period,
        coalesce(counted.reports, 0) as reports,
        coalesce(counted.ecg_reports, 0) as ecg_reports,
        {{ to_double('population.population') }} / {{ var('population_per') }} as population_units
    from county_periods
    left join counted
        on county_periods.county_code = counted.county_code
            and county_periods.period = counted.period
    left join population
        on county_periods.county_code = population.county_code
            and county_periods.year = population.year
),

final as (
    select
        county_code,
        period,
        'I05a' as indicator_code,
        {{ to_double('reports') }} as numerator,
        population_units as denominator
    from per_county
    union all
    select
        county_code,
        period,
        'I05b' as indicator_code,
        {{ to_double('ecg_reports') }} as numerator,
        population_units as denominator
    from per_county
)

select * from final
