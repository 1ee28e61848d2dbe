-- I13 / I13x per county x period. Denominator: the cohort of the period's year. Numerator:
-- cohort persons with >= 1 counted admission in the period (int_chronic__cohort_admissions) —
-- I13 when the admission is related to a disease the person is managed for, I13x any. Once
-- per person.
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

persons as (
    select distinct
        county_code,
        year,
        person_key
    from {{ ref('int_chronic_cohort') }}
),

cohort_admissions as (
    select * from {{ ref('int_chronic__cohort_admissions') }}
),

numerator_sums as (
    select
        county_code,
        period,
        count(distinct person_key) as persons_any,
        count(distinct case when is_related then person_key end) as persons_related
    from cohort_admissions
    group by county_code, period
),

denominators as (
    select
        county_code,
        year,
        count(*) as persons
    from persons
    group by county_code, year
),

per_county as (
    select
        county_periods.county_code,
        county_periods.period,
        coalesce(numerator_sums.persons_related, 0) as persons_related,
        coalesce(numerator_sums.persons_any, 0) as persons_any,
        coalesce(denominators.persons, 0) as persons
    from county_periods
    left join numerator_sums
        on county_periods.county_code = numerator_sums.county_code
            and county_periods.period = numerator_sums.period
    left join denominators
        on county_periods.county_code = denominators.county_code
            and county_periods.year = denominators.year
),

final as (
    select
        county_code,
        period,
        'I13' as indicator_code,
        {{ to_double('persons_related') }} as numerator,
        {{ to_double('persons') }} as denominator
    from per_county
    union all
    select
        county_code,
        period,
        'I13x' as indicator_code,
        {{ to_double('persons_any') }} as numerator,
        {{ to_double('persons') }} as denominator
    from per_county
)

select * from final
