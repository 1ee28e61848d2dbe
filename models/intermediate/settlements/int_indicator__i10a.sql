-- I10a per county (of insurance enrolment) x period: Net total cost of in-county inpatient settlements / net in-county inpatient admissions (originals +1, reversals -1).
{{ settlement_indicator('I10a', 'inpatient_cost_in_county', 'inpatient_admissions_in_county') }}
