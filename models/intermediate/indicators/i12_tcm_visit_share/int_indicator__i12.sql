-- I12 per county x period: TCM visits (TCM-class facility, or TCM department 50/51/52 of any
-- other in-county medical facility) / I07's denominator.
{{ summed_indicator('I12') }}
