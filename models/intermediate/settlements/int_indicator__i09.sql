-- I09 per county (of insurance enrolment) x period: Net pooled fund at in-county primary-care facilities / I08's numerator.
{{ settlement_indicator('I09', 'pooled_fund_in_county_primary_care', 'pooled_fund_in_county') }}
