-- Total resident population (both sexes, all age groups) per county x year: the denominator
-- base of the per-10,000-residents indicators.
with

population as (
    select * from {{ ref('stg_registry__population') }}
),

final as (
    select
        county_code,
        year,
        sum(population) as population
    from population
    group by county_code, year
)

select * from final
