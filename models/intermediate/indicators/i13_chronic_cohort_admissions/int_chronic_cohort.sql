-- The managed cohort: distinct persons in the year's chronic-disease roster of the county
-- managed at year end (在管), with the diseases they are managed for.
with

roster as (
    select * from {{ ref('stg_phis__chronic_disease_roster') }}
    where is_managed_at_year_end
        and person_key is not null
),

final as (
    select distinct
        county_code,
        year,
        person_key,
        disease
    from roster
)

select * from final
