-- I11 per county (of insurance enrolment) x period: Net in-county inpatient admissions / net inpatient admissions anywhere.
{{ settlement_indicator('I11', 'inpatient_admissions_in_county', 'inpatient_admissions') }}
