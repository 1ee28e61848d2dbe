-- marts.indicator_catalog — one row per indicator code, from the indicator_definitions seed
-- (docs/indicators.md is rendered from the same seed).
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
        numerator_rule,
        denominator_rule,
        rule_source,
        parameters,
        spec_version
    from catalog
)

select * from final
