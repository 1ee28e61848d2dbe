{{ config(materialized='view') }}
-- Numerator and denominator per county x period x indicator of every indicator rolled up as a
-- ratio of sums: the union of their county models (ratio_of_sums_county_models(), rendered
-- from the catalogue seed). A view of its own so that the roll-up's unit test mocks one input,
-- not one per indicator.
{%- set county_models = ratio_of_sums_county_models() %}
with

county_values as (
    {{ union_all_of(county_models, ['county_code', 'period', 'indicator_code', 'numerator', 'denominator']) }}
)

select * from county_values
