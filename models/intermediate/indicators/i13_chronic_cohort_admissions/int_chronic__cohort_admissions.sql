-- I13 / I13x, one row per county x period x cohort person x counted admission: cohort
-- persons (int_chronic_cohort, the period's year) with their admissions in the period (HIS
-- anywhere; insurance only outside the county); is_related when the principal diagnosis falls
-- in a seed range related to a disease the person is managed for (chronic_related_diagnoses).
-- int_indicator__i13 counts its persons; reconciliation.i13_admitted_persons lists them.
with

county_periods as (
    select * from {{ ref('int_county_periods') }}
),

cohort as (
    select * from {{ ref('int_chronic_cohort') }}
),

persons as (
    select distinct
        county_code,
        year,
        person_key
    from cohort
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
        admissions.admission_source,
        admissions.admission_key,
        admissions.event_time,
        admissions.dx_category
    from persons
    inner join admissions
        on persons.person_key = admissions.person_key
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
        person_admissions.admission_source,
        person_admissions.admission_key,
        person_admissions.event_time,
        person_admissions.dx_category
    from person_admissions
    inner join county_periods
        on person_admissions.county_code = county_periods.county_code
            and person_admissions.year = county_periods.year
            and {{ period_contains('county_periods', 'person_admissions.event_time') }}
),

related_admissions as (
    select distinct
        cohort_admissions.county_code,
        cohort_admissions.period,
        cohort_admissions.person_key,
        cohort_admissions.admission_source,
        cohort_admissions.admission_key
    from cohort_admissions
    inner join cohort
        on cohort_admissions.county_code = cohort.county_code
            and cohort_admissions.year = cohort.year
            and cohort_admissions.person_key = cohort.person_key
    inner join related
        on cohort.disease = related.disease
            and cohort_admissions.dx_category between related.code_from and related.code_to
),

final as (
    select
        cohort_admissions.county_code,
        cohort_admissions.period,
        cohort_admissions.year,
        cohort_admissions.person_key,
        cohort_admissions.admission_source,
        cohort_admissions.admission_key,
        cohort_admissions.event_time,
        cohort_admissions.dx_category,
        related_admissions.person_key is not null as is_related
    from cohort_admissions
    left join related_admissions
        on cohort_admissions.county_code = related_admissions.county_code
            and cohort_admissions.period = related_admissions.period
            and cohort_admissions.person_key = related_admissions.person_key
            and cohort_admissions.admission_source = related_admissions.admission_source
            and cohort_admissions.admission_key = related_admissions.admission_key
)

select * from final
