-- Example queries against the public schema `marts` of a published warehouse.
-- Open the file read-only:  duckdb -readonly demo/warehouse.duckdb
-- Area codes below (county 990121 in city 990100 of the demo) are examples: put your own.
-- These statements are executed by tests/python/test_report.py, so they are known to run.

-- 1. League table (县域排名): score, grade and rank of every county in the latest year,
--    with last year's score beside it.
select s.rank, s.county_code, s.county_name, round(s.score, 1) as score, s.grade,
       round(p.score, 1) as score_last_year
from marts.county_scorecard s
left join marts.county_scorecard p on p.county_code = s.county_code and p.year = s.year - 1
where s.year = (select max(year) from marts.county_scorecard)
order by s.rank;

-- 2. Trend of one county over the quarterly periods (year-to-date: 2024Q2 = Jan–Jun),
--    one column per indicator.
select period,
       max(value) filter (where indicator_code = 'I07') as i07_primary_care_visit_share,
       max(value) filter (where indicator_code = 'I08') as i08_in_county_fund_share,
       max(value) filter (where indicator_code = 'I10a') as i10a_cost_per_admission_yuan
from marts.indicator_values
where area_level = 'county' and area_code = '990121' and quarter is not null
group by period, year, quarter
order by year, quarter;

-- 3. A city's roll-up: the city value next to its counties' summed numerators and
--    denominators (roll-ups are re-computed from sums, never averaged ratios).
select c.area_code as city_code, c.area_name as city_name, c.numerator, c.denominator,
       round(c.value, 4) as city_value,
       count(k.area_code) as counties,
       sum(k.numerator) as counties_numerator, sum(k.denominator) as counties_denominator,
       round(sum(k.numerator) / sum(k.denominator), 4) as recomputed_value
from marts.indicator_values c
join marts.indicator_values k
  on k.area_level = 'county' and left(k.area_code, 4) || '00' = c.area_code
 and k.period = c.period and k.indicator_code = c.indicator_code
where c.area_level = 'city' and c.period = '2024' and c.indicator_code = 'I07'
group by all
order by c.area_code;

-- 4. Numerator and denominator behind a value, with the indicator's definition.
select v.area_name, v.period, v.indicator_code, c.name_zh, c.name_en,
       v.numerator, v.denominator, v.value, v.unit, c.direction, c.definition
from marts.indicator_values v
join marts.indicator_catalog c using (indicator_code)
where v.area_level = 'county' and v.area_code = '990121' and v.period = '2024'
  and v.indicator_code = 'I08';

-- 5. Quality status of the data behind a county's 2024 values. Files and checks are per
--    delivery (source x period), so this lists every source of the year: files and rows
--    loaded, rows quarantined or duplicate, and the checks that failed — plus which of the
--    county's indicators have no value.
with audit as (
    select source, count(*) as files, count(*) filter (where status <> 'loaded') as files_rejected,
           sum(rows_read) as rows_read, sum(rows_loaded) as rows_loaded,
           sum(rows_quarantined) as rows_quarantined, sum(rows_duplicate) as rows_duplicate
    from marts.load_audit
    where period like '2024%'
    group by source
), checks as (
    select source,
           count(*) filter (where status = 'passed') as checks_passed,
           count(*) filter (where status in ('failed', 'error') and severity = 'blocking') as blocking_failed,
           count(*) filter (where status in ('failed', 'error') and severity = 'warning') as warnings_failed,
           string_agg(check_id || ' ' || period, ', ' order by check_id)
               filter (where status in ('failed', 'error')) as failed_checks
    from marts.data_quality
    where period like '2024%'
    group by source
), missing as (
    select string_agg(indicator_code || ' ' || period, ', ' order by indicator_code, period) as county_values_missing
    from marts.indicator_values
    where area_level = 'county' and area_code = '990121' and period like '2024%' and value is null
)
select coalesce(a.source, c.source) as source, a.files, a.files_rejected, a.rows_read,
       a.rows_loaded, a.rows_quarantined, a.rows_duplicate,
       c.checks_passed, c.blocking_failed, c.warnings_failed, c.failed_checks,
       m.county_values_missing
from audit a
full join checks c using (source)
cross join missing m
order by source;

-- 6. The homogenisation rates per 10,000 residents (每万常住人口), per county, 2024: I04
--    physicians dispatched 6 months or more in the year (annual only), I05a remote diagnoses of
--    the county's imaging and ECG centres and I05b their ECG part (also year-to-date quarters).
select area_code, area_name, indicator_code, numerator, round(denominator, 4) as residents_10k,
       round(value, 2) as per_10k
from marts.indicator_values
where area_level = 'county' and period = '2024' and indicator_code in ('I04', 'I05a', 'I05b')
  and unit = 'per_10k'
order by indicator_code, value desc;
