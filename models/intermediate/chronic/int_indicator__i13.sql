-- I13 / I13x per county x period. Denominator: the cohort of the period's year. Numerator:
-- cohort persons with >= 1 admission in the period (HIS anywhere; insurance only outside the
-- county) — I13 when its principal diagnosis falls in a seed range related to a disease the
-- person is managed for (chronic_related_diagnoses), I13x for any diagnosis. Once per person.
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

cohort as (
    select * from {{ ref('int_chronic_cohort') }}
),

persons as (
    select distinct county_code, year, person_key from cohort
),

admissions as (
    select * from {{ ref('int_admissions') }}
),

related as (
    select * from {{ ref('chronic_related_diagnoses') }}
),

person_admissions as (
    -- persons first: joining admissions to the periods of every county before the person
    -- (a range join without a county key) multiplies rows by the number of counties
    select
        persons.county_code,
        persons.year,
        persons.person_key,
        admissions.event_time,
        admissions.dx_category
    from persons
    inner join admissions
        on admissions.person_key = persons.person_key
        and cast(extract(year from admissions.event_time) as integer) = persons.year
    where admissions.admission_source = 'his'
        or admissions.facility_county_code is null
        or admissions.facility_county_code <> persons.county_code
),

cohort_admissions as (
    select
        county_periods.county_code,
        county_periods.period,
        county_periods.year,
        person_admissions.person_key,
        person_admissions.dx_category
    from person_admissions
    inner join county_periods
        on county_periods.county_code = person_admissions.county_code
        and county_periods.year = person_admissions.year
        and {{ period_contains('county_periods', 'person_admissions.event_time') }}
),

related_admissions as (
    select distinct
        cohort_admissions.county_code,
        cohort_admissions.period,
        cohort_admissions.person_key
    from cohort_admissions
    inner join cohort
        on cohort.county_code = cohort_admissions.county_code
        and cohort.year = cohort_admissions.year
        and cohort.person_key = cohort_admissions.person_key
    inner join related
        on related.disease = cohort.disease
        and cohort_admissions.dx_category between related.code_from and related.code_to
),

numerators as (
    select
        county_code,
        period,
        count(distinct person_key) as persons_any,
        cast(null as integer) as persons_related
    from cohort_admissions
    group by county_code, period
    union all
    select
        county_code,
        period,
        cast(null as integer),
        count(*)
    from related_admissions
    group by county_code, period
),

numerator_sums as (
    select
        county_code,
        period,
        max(persons_any) as persons_any,
        max(persons_related) as persons_related
    from numerators
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
        on numerator_sums.county_code = county_periods.county_code
        and numerator_sums.period = county_periods.period
    left join denominators
        on denominators.county_code = county_periods.county_code
        and denominators.year = county_periods.year
),

final as (
    select county_code, period, 'I13' as indicator_code,
        {{ to_double('persons_related') }} as numerator, {{ to_double('persons') }} as denominator
    from per_county
    union all
    select county_code, period, 'I13x',
        {{ to_double('persons_any') }}, {{ to_double('persons') }}
    from per_county
)

select * from final
