-- reconciliation.i13_admitted_persons — the I13 / I13x numerator as a list: one row per county
-- x period x cohort person with a counted admission in the period, with the diseases they are
-- managed for and their admissions (source, key, date, ICD-10 category; related ones marked
-- '*'). Person keys are the landing's keyed hashes. Working database only, never published.
with

cohort_admissions as (
    select * from {{ ref('int_chronic__cohort_admissions') }}
),

diseases as (
    select
        county_code,
        year,
        person_key,
        {{ listagg_ordered('disease', "'|'", 'disease') }} as diseases
    from (
        select distinct
            county_code,
            year,
            person_key,
            disease
        from {{ ref('int_chronic_cohort') }}
    ) as managed
    group by county_code, year, person_key
),

admissions as (
    select
        county_code,
        period,
        year,
        person_key,
        count(*) as admissions,
        sum(case when is_related then 1 else 0 end) as related_admissions,
        {{ listagg_ordered(
            dbt.concat([
                'admission_source', "' '", 'admission_key', "' '",
                'cast(cast(event_time as date) as ' ~ dbt.type_string() ~ ')', "' '",
                "coalesce(dx_category, '-')", "case when is_related then '*' else '' end",
            ]),
            "'; '",
            dbt.concat(['cast(event_time as ' ~ dbt.type_string() ~ ')', 'admission_key'])
        ) }} as admission_list
    from cohort_admissions
    group by county_code, period, year, person_key
),

final as (
    select
        admissions.county_code,
        admissions.period,
        admissions.person_key,
        diseases.diseases,
        admissions.related_admissions > 0 as is_counted_i13,
        true as is_counted_i13x,
        admissions.admissions,
        admissions.related_admissions,
        admissions.admission_list
    from admissions
    left join diseases
        on admissions.county_code = diseases.county_code
            and admissions.year = diseases.year
            and admissions.person_key = diseases.person_key
)

select * from final
