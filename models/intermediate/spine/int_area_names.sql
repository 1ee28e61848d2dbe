-- Area names, one row per code: the area_names seed (the synthetic province 99 and the nation)
-- first, then the GB/T 2260 register (seed gbt2260_areas, scripts/make_gbt2260_seed.py): every
-- province, city and county in force, and the codes retired since 2015 under their last name.
-- The marts left-join it; a code found in neither is shown by its code.
with

local_names as (
    select
        area_code,
        area_level,
        area_name
    from {{ ref('area_names') }}
),

register as (
    select
        area_code,
        area_level,
        area_name
    from {{ ref('gbt2260_areas') }}
    where area_code not in (select local_names.area_code from local_names)
),

final as (
    select * from local_names
    union all
    select * from register
)

select * from final
