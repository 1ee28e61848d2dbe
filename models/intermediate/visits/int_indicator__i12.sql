-- I12 per county x period: TCM visits (TCM-class facility, or TCM department 50/51/52 of any
-- other in-county medical facility) / I07's denominator.
{{ period_sum_indicator('I12', 'int_visits__daily', 'county_code', 'visit_date', 'tcm_visits', 'visits') }}
