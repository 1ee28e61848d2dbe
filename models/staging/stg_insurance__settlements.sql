with

source as (
    select * from {{ source('raw', 'insurance_settlements') }}
),

renamed as (
    select
        setl_id,
        mdtrt_id,
        psn_key,
        person_key,
        person_key_valid,
        gend,
        brdy,
        insutype,
        med_type,
        insu_admdvs,
        mdtrtarea_admdvs,
        fixmedins_code,
        fixmedins_name,
        fixmedins_type,
        begndate,
        enddate,
        setl_time,
        cast(extract(year from setl_time) as integer) as setl_year,
        dise_codg,
        medfee_sumamt,
        hifp_pay,
        fund_pay_sumamt,
        acct_pay,
        psn_cash_pay,
        coalesce(refd_setl_flag = 1, false) as is_reversal,
        init_setl_id,
        _period,
        _file,
        _line
    from source
)

select * from renamed
