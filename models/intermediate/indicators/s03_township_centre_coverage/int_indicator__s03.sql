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
        on register.category_code = categories.category_code
    where categories.is_township_health_centre = 1
        and register.is_active
),

lead_hospitals as (
    select
        year,
        county_code,
        org_code
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
        on centres.year = dispatches.ledger_year
            and centres.org_code = dispatches.host_org_code
    inner join lead_hospitals
        on centres.year = lead_hospitals.year
            and centres.county_code = lead_hospitals.county_code
            and dispatches.home_org_code = lead_hospitals.org_code
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
    select
        year,
        county_code,
        count(*) as centres
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
        on county_years.county_code = covered.county_code
            and county_years.year = covered.year
    left join centre_counts
        on county_years.county_code = centre_counts.county_code
            and county_years.year = centre_counts.year
)

select * from final
