-- Period spine: an annual period 'YYYY' for every year with a delivery, and a year-to-date
-- period 'YYYYQn' for every delivered quarter of the quarterly sources.
with

annual_deliveries as (
    select _period from {{ ref('stg_registry__facilities') }}
    union
    select _period from {{ ref('stg_registry__population') }}
    union
    select _period from {{ ref('stg_hr__staff') }}
    union
    select _period from {{ ref('stg_registry__dispatches') }}
    union
    select _period from {{ ref('stg_phis__chronic_disease_roster') }}
    union
    select _period from {{ ref('stg_dsp__deaths') }}
    union
    select _period from {{ ref('stg_assessment__qualitative_assessments') }}
),

quarterly_deliveries as (
    select _period from {{ ref('stg_his__outpatient_visits') }}
    union
    select _period from {{ ref('stg_his__inpatient_discharges') }}
    union
    select _period from {{ ref('stg_insurance__settlements') }}
    union
    select _period from {{ ref('stg_telemed__remote_diagnoses') }}
),

periods as (
    select distinct
        cast(substring(_period, 1, 4) as integer) as year,
        cast(null as integer) as quarter
    from annual_deliveries
    where _period is not null
    union
    select distinct
        cast(substring(_period, 1, 4) as integer) as year,
        cast(null as integer) as quarter
    from quarterly_deliveries
    where _period is not null
    union
    select distinct
        cast(substring(_period, 1, 4) as integer) as year,
        cast(substring(_period, 6, 1) as integer) as quarter
    from quarterly_deliveries
    where _period like '____Q_'
),

dated as (
    select
        year,
        quarter,
        cast({{ dbt.concat(["cast(year as " ~ dbt.type_string() ~ ")", "'-01-01'"]) }} as date) as year_start,
        coalesce(quarter, 4) as last_quarter
    from periods
),

bounded as (
    select
        year,
        quarter,
        year_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', '3 * last_quarter', 'year_start')) }} as date) as period_end,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('year', 1, 'year_start')) }} as date) as year_end
    from dated
),

final as (
    select
        case
            when quarter is null then cast(year as {{ dbt.type_string() }})
            else {{ dbt.concat(["cast(year as " ~ dbt.type_string() ~ ")", "'Q'", "cast(quarter as " ~ dbt.type_string() ~ ")"]) }}
        end as period,
        year,
        quarter,
        quarter is null as is_annual,
        year_start as period_start,
        period_end,
        year_start,
        year_end,
        {{ dbt.datediff('year_start', 'period_end', 'day') }} + 1 as days_in_period,
        {{ dbt.datediff('year_start', 'year_end', 'day') }} + 1 as days_in_year
    from bounded
)

select * from final
