-- marts.county_scorecard_attainment — per county x year x scored indicator: the annual value,
-- the example target and floor, the weight and the attainment (0-1, linear between floor and
-- target, clipped). The same formula serves both directions: for a lower-is-better indicator
-- the floor lies above the target.
with

values_ as (
    select * from {{ ref('indicator_values') }}
    where area_level = 'county' and quarter is null
),

rules as (
    select * from {{ ref('scoring_rules') }}
),

final as (
    select
        values_.area_code as county_code,
        values_.year,
        values_.indicator_code,
        values_.value,
        rules.target,
        rules.floor,
        rules.weight,
        case
            when values_.value is null then null
            when (values_.value - rules.floor) / (rules.target - rules.floor) >= 1 then 1.0
            when (values_.value - rules.floor) / (rules.target - rules.floor) <= 0 then 0.0
            else (values_.value - rules.floor) / (rules.target - rules.floor)
        end as attainment
    from values_
    inner join rules
        on values_.indicator_code = rules.indicator_code
)

select * from final
