-- I07 per county x period: visits at in-county primary-care facilities / visits at all
-- in-county medical facilities.
{{ summed_indicator('I07') }}
