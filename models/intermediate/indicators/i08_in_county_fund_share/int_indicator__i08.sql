-- I08 per county (of insurance enrolment) x period: Net pooled fund of the county's insured at in-county facilities / at all facilities (pharmacies excluded).
{{ summed_indicator('I08') }}
