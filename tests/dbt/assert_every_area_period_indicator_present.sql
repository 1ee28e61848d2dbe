{{ config(meta={"dagster": {"ref": {"name": "indicator_values"}}}) }}
-- meta.dagster.ref: dagster-dbt attaches this singular test (several refs) to
-- marts.indicator_values as an asset check instead of logging it as an observation.
-- Every area x period x implemented indicator of the right frequency has exactly one row in
-- marts.indicator_values (no row missing, none unexpected, none twice). The expected set is
-- worked out here from the landed deliveries themselves (the raw sources, not the staging or
-- spine models the marts are built on), so a fault in the spine (int_counties, int_periods,
-- int_areas) or in a roll-up shows:
-- - counties: every county with a resident population, a chronic-disease roster or a
--   qualitative assessment delivered; each in its city (first 4 digits + '00'), its province
--   (first 2 + '0000') and the nation (var national_area_code);
-- - periods: the year of every delivery (`_period`, the delivery period) of any source, and
--   the year-to-date period of every quarter delivered by a quarterly source (2024Q2 is
--   January-June: its own delivery makes the reporting period);
-- - an annual indicator has the annual periods only, a quarterly one every period.
with

counties as (
    select county_code from {{ source('raw', 'population') }}
    union
    select county_code from {{ source('raw', 'chronic_disease_roster') }}
    union
    select county_code from {{ source('raw', 'qualitative_assessments') }}
),

areas as (
    select
        'county' as area_level,
        county_code as area_code
    from counties
    where county_code is not null
    union
    select
        'city' as area_level,
        {{ dbt.concat(["substring(county_code, 1, 4)", "'00'"]) }} as area_code
    from counties
    where county_code is not null
    union
    select
        'province' as area_level,
        {{ dbt.concat(["substring(county_code, 1, 2)", "'0000'"]) }} as area_code
    from counties
    where county_code is not null
    union
    select
        'national' as area_level,
        '{{ var("national_area_code") }}' as area_code
    from counties
    where county_code is not null
),

annual_sources as (
    {% for source_name in ['facilities', 'population', 'personnel', 'dispatches',
                           'chronic_disease_roster', 'deaths', 'qualitative_assessments'] %}
        select _period from {{ source('raw', source_name) }}
        {% if not loop.last %}union{% endif %}
    {% endfor %}
),

quarterly_sources as (
    {% for source_name in ['outpatient_visits', 'inpatient_discharges',
                           'insurance_settlements', 'remote_diagnoses'] %}
        select _period from {{ source('raw', source_name) }}
        {% if not loop.last %}union{% endif %}
    {% endfor %}
),

periods as (
    select
        substring(_period, 1, 4) as period,
        true as is_annual
    from annual_sources
    where _period is not null
    union
    select
        substring(_period, 1, 4) as period,
        true as is_annual
    from quarterly_sources
    where _period is not null
    union
    select
        _period as period,
        false as is_annual
    from quarterly_sources
    where _period like '____Q_'
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
        indicator_code,
        count(*) as row_count
    from {{ ref('indicator_values') }}
    group by area_level, area_code, period, indicator_code
)

select
    'missing' as problem,
    expected.area_level,
    expected.area_code,
    expected.period,
    expected.indicator_code
from expected
left join actual
    on expected.area_level = actual.area_level
        and expected.area_code = actual.area_code
        and expected.period = actual.period
        and expected.indicator_code = actual.indicator_code
where actual.indicator_code is null
union all
select
    case when expected.indicator_code is null then 'unexpected' else 'duplicated' end as problem,
    actual.area_level,
    actual.area_code,
    actual.period,
    actual.indicator_code
from actual
left join expected
    on actual.area_level = expected.area_level
        and actual.area_code = expected.area_code
        and actual.period = expected.period
        and actual.indicator_code = expected.indicator_code
where expected.indicator_code is null or actual.row_count > 1
