-- Area hierarchy: each county belongs to itself, its city (first 4 digits + '00'), its
-- province (first 2 + '0000') and the nation. Roll-ups join county rows to this and group
-- by (area_level, area_code).
with

counties as (
    select * from {{ ref('int_counties') }}
),

levels as (
    select
        county_code,
        'county' as area_level,
        county_code as area_code,
        1 as level_rank
    from counties
    union all
    select
        county_code,
        'city' as area_level,
        {{ city_code('county_code') }} as area_code,
        2 as level_rank
    from counties
    union all
    select
        county_code,
        'province' as area_level,
        {{ province_code('county_code') }} as area_code,
        3 as level_rank
    from counties
    union all
    select
        county_code,
        'national' as area_level,
        '{{ var("national_area_code") }}' as area_code,
        4 as level_rank
    from counties
)

select * from levels
