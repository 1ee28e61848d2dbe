-- I10a per county (of insurance enrolment) x period: Net total cost of in-county inpatient settlements / net in-county inpatient admissions (originals +1, reversals -1).
{{ summed_indicator('I10a') }}
