-- S01 per county (of insurance enrolment) x period: net in-county visits and admissions (settlement rows) / all of them.
{{ settlement_indicator('S01', 'settlements_in_county', 'settlements') }}
