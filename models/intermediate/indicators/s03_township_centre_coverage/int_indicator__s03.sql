-- S03 per county x year (annual only): active township health centres (seed flag
-- is_township_health_centre) with at least one physician from a lead hospital of the county
-- stationed year-round — days at that centre in the year's dispatch ledger, summed over the
-- physician's records, >= min_dispatch_days — over active township health centres.
-- Physicians: the eligible long-term dispatches of I04 (intermediate-or-higher title), with
-- their days in the ledger year (int_dispatches__eligible).
with

county_years as (
    select * from {{ ref('int_county_periods') }}
    where is_annual
),

register as (
    select * from {{ ref('int_facilities__by_year') }}
),

categories as (
    select * from {{ ref('facility_categories') }}
),

dispatches as (
    select * from {{ ref('int_dispatches__eligible') }}
),

centres as (
    select
        register.year,
        register.county_code,
        register.org_code
    from register
    inner join categories
        on categories.category_code = register.category_code
    where categories.is_township_health_centre = 1
        and register.is_active
),

lead_hospitals as (
    select year, county_code, org_code
    from register
    where is_lead_hospital
),

stationed_days as (
    select
        centres.county_code,
        centres.year,
        centres.org_code as centre_code,
        dispatches.person_key,
        sum(dispatches.days_in_year) as days
    from centres
    inner join dispatches
        on dispatches.ledger_year = centres.year
        and dispatches.host_org_code = centres.org_code
    inner join lead_hospitals
        on lead_hospitals.year = centres.year
        and lead_hospitals.county_code = centres.county_code
        and lead_hospitals.org_code = dispatches.home_org_code
    group by centres.county_code, centres.year, centres.org_code, dispatches.person_key
),

covered as (
    select
        county_code,
        year,
        count(distinct centre_code) as centres_covered
    from stationed_days
    where days >= {{ var('min_dispatch_days') }}
    group by county_code, year
),

centre_counts as (
    select year, county_code, count(*) as centres
    from centres
    group by year, county_code
),

final as (
    select
        county_years.county_code,
        county_years.period,
        'S03' as indicator_code,
        {{ to_double('coalesce(covered.centres_covered, 0)') }} as numerator,
        {{ to_double('coalesce(centre_counts.centres, 0)') }} as denominator
    from county_years
    left join covered
        on covered.county_code = county_years.county_code
        and covered.year = county_years.year
    left join centre_counts
        on centre_counts.county_code = county_years.county_code
        and centre_counts.year = county_years.year
)

select * from final
