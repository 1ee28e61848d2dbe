{{ config(meta={"dagster": {"ref": {"name": "indicator_values"}}}) }}
-- meta.dagster.ref: dagster-dbt attaches this singular test (several refs) to
-- marts.indicator_values as an asset check instead of logging it as an observation.
-- Every area (each county and its city, province, nation) x period x implemented indicator of
-- the right frequency has exactly one row in marts.indicator_values.
with

areas as (
    select distinct
        area_level,
        area_code
    from {{ ref('int_areas') }}
),

periods as (
    select * from {{ ref('int_periods') }}
),

catalog as (
    select * from {{ ref('indicator_definitions') }}
    where implemented
),

expected as (
    select
        areas.area_level,
        areas.area_code,
        periods.period,
        catalog.indicator_code
    from areas
    cross join periods
    inner join catalog
        on periods.is_annual or catalog.frequency = 'quarterly'
),

actual as (
    select
        area_level,
        area_code,
        period,
        indicator_code
    from {{ ref('indicator_values') }}
)

select
    'missing' as problem,
    expected.*
from expected
left join actual
    on expected.area_level = actual.area_level
        and expected.area_code = actual.area_code
        and expected.period = actual.period
        and expected.indicator_code = actual.indicator_code
where actual.indicator_code is null
union all
select
    'unexpected' as problem,
    actual.*
from actual
left join expected
    on actual.area_level = expected.area_level
        and actual.area_code = expected.area_code
        and actual.period = expected.period
        and actual.indicator_code = expected.indicator_code
where expected.indicator_code is null
