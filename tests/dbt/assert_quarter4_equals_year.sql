-- Year-to-date through Q4 is the year: where both YYYYQ4 and YYYY exist, values agree.
with

v as (
    select * from {{ ref('indicator_values') }}
)

select q4.*  -- noqa: AM04
from v as q4
inner join v as y
    on q4.area_level = y.area_level
        and q4.area_code = y.area_code
        and q4.indicator_code = y.indicator_code
        and q4.year = y.year
        and y.quarter is null
where q4.quarter = 4
    -- a growth rate: its year-ago Q4 may be missing while the year-ago year exists
    and q4.indicator_code not in ({{ sql_list(growth_bases().keys() | list) }})
    and abs(coalesce(q4.value, -1) - coalesce(y.value, -1)) > 1e-9
