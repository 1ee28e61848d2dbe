{#- GENERATED from seeds/indicator_definitions.csv by `python -m orchestration.catalogue`.
    Do not edit: add or change an indicator's seed row and render again (a test compares this
    file with the rendering). -#}

{#- County x period models summed into every area level (rollup_method ratio_of_sums, and the
    levels whose growth is computed: rollup_method growth_of_rolled_up). -#}
{% macro ratio_of_sums_county_models() -%}
    {{ return(['int_indicator__i04', 'int_indicator__i05ab', 'int_indicator__i05c', 'int_indicator__i07', 'int_indicator__i08', 'int_indicator__i09', 'int_indicator__i10a', 'int_indicator__i11', 'int_indicator__i12', 'int_indicator__i13', 'int_indicator__s01', 'int_indicator__s02', 'int_indicator__s03', 'int_indicator__s04_cost', 'int_indicator__s05']) }}
{%- endmacro %}

{#- Growth indicators and the rolled-up level they are the growth of. -#}
{% macro growth_bases() -%}
    {{ return({'I10b': 'I10a', 'S04': 'S04_cost'}) }}
{%- endmacro %}

{#- The roll-up models whose union is int_indicator_values. -#}
{% macro indicator_rollup_models() -%}
    {{ return(['int_indicator_values__shares', 'int_indicator_values__ratio_of_sums', 'int_indicator_values__i06', 'int_indicator_values__growth', 'int_indicator_values__i14']) }}
{%- endmacro %}

{#- Sums over facilities (folder meta facility_sum): code -> (family, numerator measure,
    denominator measure or none). summed_indicator(code) sums the family's county x day table;
    marts.indicator_breakdown sums the same measures of its facility table per facility. -#}
{% macro summed_indicators() -%}
    {{ return({
        'I05a': ('remote', 'reports', none),
        'I05b': ('remote', 'ecg_reports', none),
        'I07': ('visits', 'primary_care_visits', 'visits'),
        'I08': ('settlements', 'pooled_fund_in_county', 'pooled_fund'),
        'I09': ('settlements', 'pooled_fund_in_county_primary_care', 'pooled_fund_in_county'),
        'I10a': ('settlements', 'inpatient_cost_in_county', 'inpatient_admissions_in_county'),
        'I11': ('settlements', 'inpatient_admissions_in_county', 'inpatient_admissions'),
        'I12': ('visits', 'tcm_visits', 'visits'),
        'S01': ('settlements', 'settlements_in_county', 'settlements'),
        'S02': ('settlements', 'inpatient_pooled_fund_in_county', 'inpatient_cost_in_county'),
        'S05': ('discharges', 'referral_discharges', 'discharges'),
        'S04_cost': ('settlements', 'inpatient_cost_in_county_primary_care', 'inpatient_admissions_in_county_primary_care'),
    }) }}
{%- endmacro %}

{#- The codes with facility rows in marts.indicator_breakdown (breakdown_indicator = itself). -#}
{% macro breakdown_indicators() -%}
    {{ return(['I05a', 'I05b', 'I07', 'I08', 'I09', 'I10a', 'I11', 'I12', 'S01', 'S02', 'S05']) }}
{%- endmacro %}
