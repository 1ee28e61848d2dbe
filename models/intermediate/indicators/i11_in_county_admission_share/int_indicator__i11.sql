-- I11 per county (of insurance enrolment) x period: Net in-county inpatient admissions / net inpatient admissions anywhere.
{{ summed_indicator('I11') }}
