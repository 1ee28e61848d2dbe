-- I07 per county x period: visits at in-county primary-care facilities / visits at all
-- in-county medical facilities.
{{ period_sum_indicator('I07', 'int_visits__daily', 'county_code', 'visit_date', 'primary_care_visits', 'visits') }}
