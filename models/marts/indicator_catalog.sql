-- marts.indicator_catalog — one row per indicator code, from the indicator_definitions seed
-- (S01 - S05 are catalogued ahead of their computation).
with

catalog as (
    select * from {{ ref('indicator_definitions') }}
),

final as (
    select
        indicator_code,
        dimension,
        name_zh,
        name_en,
        unit,
        direction,
        frequency,
        definition,
        spec_version
    from catalog
)

select * from final
