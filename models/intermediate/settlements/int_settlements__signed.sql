{{ config(materialized='view') }}
-- Insurance settlements as signed rows: an original counts +1 with its amounts, a reversal
-- (refd_setl_flag = 1) -1 with its own (negative) amounts, each in the period of its own
-- setl_time. In-county = the fixmedins_code belongs to a facility registered, in the
-- settlement year's register, in the insured's county (insu_admdvs).
-- A view: its two readers filter it (int_settlements__by_facility by refreshed period, int_admissions
-- to inpatient rows), and persisting every settlement with its 64-character person key cost
-- more than both reads (measured: bench/README.md).
-- Params: pooled_fund_column, total_cost_column, pharmacy_fixmedins_types,
-- inpatient_med_type_prefixes, inpatient_med_types.
{%- set money_columns = ['medfee_sumamt', 'hifp_pay', 'fund_pay_sumamt', 'acct_pay', 'psn_cash_pay'] %}
{%- for v in ['pooled_fund_column', 'total_cost_column'] %}
    {%- if var(v) not in money_columns %}
{{ exceptions.raise_compiler_error("var " ~ v ~ " = '" ~ var(v) ~ "' is not a settlement money column " ~ money_columns | join(', ')) }}
{%- endif %}
{%- endfor %}
with

settlements as (
    select * from {{ ref('stg_insurance__settlements') }}
),

insurance_codes as (
    -- one facility per (year, insurance code); a code registered twice keeps the first org
    select
        year,
        fixmedins_code,
        min(county_code) as county_code,
        min(org_code) as org_code,
        max(case when is_primary_care then 1 else 0 end) = 1 as is_primary_care
    from {{ ref('int_facilities__by_year') }}
    where fixmedins_code is not null
    group by year, fixmedins_code
),

final as (
    select
        settlements.setl_id,
        settlements.insu_admdvs as insured_county_code,
        settlements.setl_time,
        cast(settlements.setl_time as date) as setl_date,
        settlements.setl_year,
        settlements.is_reversal,
        settlements.init_setl_id,
        case when settlements.is_reversal then -1 else 1 end as admission_sign,
        settlements.{{ var('pooled_fund_column') }} as pooled_fund,
        settlements.{{ var('total_cost_column') }} as total_cost,
        settlements.med_type,
        settlements.fixmedins_type in ({{ sql_list(var('pharmacy_fixmedins_types')) }}) as is_pharmacy,
        coalesce({{ is_inpatient_med_type('settlements.med_type') }}, false) as is_inpatient,
        settlements.fixmedins_code,
        settlements.fixmedins_name,
        insurance_codes.org_code as facility_org_code,
        insurance_codes.county_code as facility_county_code,
        coalesce(insurance_codes.county_code = settlements.insu_admdvs, false) as is_in_county,
        coalesce(insurance_codes.is_primary_care, false) as is_facility_primary_care,
        settlements.person_key,
        settlements.dise_codg,
        settlements._period
    from settlements
    left join insurance_codes
        on settlements.setl_year = insurance_codes.year
            and settlements.fixmedins_code = insurance_codes.fixmedins_code
)

select * from final
