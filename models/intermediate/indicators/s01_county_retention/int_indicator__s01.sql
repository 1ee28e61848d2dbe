-- S01 per county (of insurance enrolment) x period: net in-county visits and admissions (settlement rows) / all of them.
{{ summed_indicator('S01') }}
