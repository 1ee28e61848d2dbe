-- S04_cost per county (of insurance enrolment) x period: net inpatient cost per net admission at in-county primary-care facilities (the level whose growth is S04; not published).
{{ summed_indicator('S04_cost') }}
