-- S02 per county (of insurance enrolment) x period: net pooled fund / net total cost of in-county inpatient settlements.
{{ settlement_indicator('S02', 'inpatient_pooled_fund_in_county', 'inpatient_cost_in_county') }}
