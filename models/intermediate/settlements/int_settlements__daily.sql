{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **refresh_by_period_config()
    )
}}
-- Signed settlement sums per delivery period, insured county and settlement day, pharmacies
-- excluded (they are outside I08-I11 entirely). Incremental by delivery period. Feeds I08, I09, I10a, I11, S01, S02, S04.
with

signed as (
    select * from {{ ref('int_settlements__signed') }}
    where not is_pharmacy
        and {{ in_refresh('_period') }}
),

final as (
    select
        _period,
        insured_county_code,
        setl_date,
        sum(pooled_fund) as pooled_fund,
        sum(case when is_in_county then pooled_fund else 0 end) as pooled_fund_in_county,
        sum(case when is_in_county and is_facility_primary_care then pooled_fund else 0 end)
            as pooled_fund_in_county_primary_care,
        sum(case when is_inpatient then admission_sign else 0 end) as inpatient_admissions,
        sum(case when is_inpatient and is_in_county then admission_sign else 0 end)
            as inpatient_admissions_in_county,
        sum(case when is_inpatient and is_in_county then total_cost else 0 end)
            as inpatient_cost_in_county,
        sum(case when is_inpatient and is_in_county then pooled_fund else 0 end)
            as inpatient_pooled_fund_in_county,
        sum(case when is_inpatient and is_in_county and is_facility_primary_care then admission_sign else 0 end)
            as inpatient_admissions_in_county_primary_care,
        sum(case when is_inpatient and is_in_county and is_facility_primary_care then total_cost else 0 end)
            as inpatient_cost_in_county_primary_care,
        sum(admission_sign) as settlements,
        sum(case when is_in_county then admission_sign else 0 end) as settlements_in_county
    from signed
    where insured_county_code is not null
    group by _period, insured_county_code, setl_date
)

select * from final
