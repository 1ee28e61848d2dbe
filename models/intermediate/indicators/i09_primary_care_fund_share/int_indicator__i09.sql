-- I09 per county (of insurance enrolment) x period: Net pooled fund at in-county primary-care facilities / I08's numerator.
{{ summed_indicator('I09') }}
