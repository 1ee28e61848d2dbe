-- The monitored counties: every county with a resident population, a chronic-disease roster or
-- a qualitative assessment delivered. The facility register is deliberately not a source of
-- counties: it also lists districts (市辖区) that only host city hospitals, which take part in
-- in/out-of-county rules but are not monitored counties themselves.
with

population as (
    select distinct county_code from {{ ref('stg_registry__population') }}
),

roster as (
    select distinct county_code from {{ ref('stg_phis__chronic_disease_roster') }}
),

assessments as (
    select distinct county_code from {{ ref('stg_assessment__qualitative_assessments') }}
),

counties as (
    select county_code from population
    union
    select county_code from roster
    union
    select county_code from assessments
)

select county_code
from counties
where county_code is not null
