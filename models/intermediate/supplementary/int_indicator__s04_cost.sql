-- S04_cost per county (of insurance enrolment) x period: net inpatient cost per net admission at in-county primary-care facilities (the level whose growth is S04; not published).
{{ settlement_indicator('S04_cost', 'inpatient_cost_in_county_primary_care', 'inpatient_admissions_in_county_primary_care') }}
