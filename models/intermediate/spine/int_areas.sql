-- Area hierarchy: each county belongs to itself, its city (first 4 digits + '00'), its
-- province (first 2 + '0000') and the nation. Roll-ups join county rows to this and group
-- by (area_level, area_code).
with

counties as (
    select * from {{ ref('int_counties') }}
),

levels as (
    select county_code, 'county' as area_level, county_code as area_code, 1 as level_rank from counties
    union all
    select county_code, 'city', {{ city_code('county_code') }}, 2 from counties
    union all
    select county_code, 'province', {{ province_code('county_code') }}, 3 from counties
    union all
    select county_code, 'national', '{{ var("national_area_code") }}', 4 from counties
)

select * from levels
