-- S02 per county (of insurance enrolment) x period: net pooled fund / net total cost of in-county inpatient settlements.
{{ summed_indicator('S02') }}
