-- Deaths from the four NCD causes (underlying cause in ncd_icd10_groups; residents of the
-- county; year of death_date; age = completed years at death) and mid-year resident
-- population (both sexes), per county x year x life-table age group (life_table_age_groups).
-- is_delivered: the year has both a deaths delivery and population rows (I14 / I14p need it).
with

counties as (
    select * from {{ ref('int_counties') }}
),

years as (
    select distinct year from {{ ref('int_periods') }}
    where is_annual
),

age_groups as (
    select * from {{ ref('life_table_age_groups') }}
),

causes as (
    select * from {{ ref('ncd_icd10_groups') }}
),

deaths as (
    select * from {{ ref('stg_dsp__deaths') }}
),

ncd_deaths as (
    select
        deaths.residence_county_code as county_code,
        deaths.death_year as year,
        age_groups.age_group,
        count(*) as deaths
    from deaths
    inner join age_groups
        on deaths.age_at_death between age_groups.age_from and age_groups.age_to
    where exists (
            select 1
            from causes
            where {{ icd10_category('deaths.underlying_cause') }} between causes.code_from and causes.code_to
        )
    group by deaths.residence_county_code, deaths.death_year, age_groups.age_group
),

population as (
    select
        county_code,
        year,
        age_group,
        sum(population) as population
    from {{ ref('stg_registry__population') }}
    group by county_code, year, age_group
),

deaths_delivered as (
    select distinct cast(_period as integer) as year from deaths
),

population_delivered as (
    select distinct year from {{ ref('stg_registry__population') }}
),

final as (
    select
        counties.county_code,
        years.year,
        age_groups.age_group,
        coalesce(ncd_deaths.deaths, 0) as deaths,
        population.population,
        deaths_delivered.year is not null and population_delivered.year is not null as is_delivered
    from counties
    cross join years
    cross join age_groups
    left join ncd_deaths
        on counties.county_code = ncd_deaths.county_code
            and years.year = ncd_deaths.year
            and age_groups.age_group = ncd_deaths.age_group
    left join population
        on counties.county_code = population.county_code
            and years.year = population.year
            and age_groups.age_group = population.age_group
    left join deaths_delivered
        on years.year = deaths_delivered.year
    left join population_delivered
        on years.year = population_delivered.year
)

select * from final
