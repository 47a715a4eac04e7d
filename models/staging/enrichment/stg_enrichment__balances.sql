{#-
    Optional source: when raw.fact_balances does not exist, an empty result with the same columns.
    One row per (user_id, start_date): holdings of a user that started on the same day are
    summed. The source has no holding id, and the features read only the sum of aum and the
    first start date, which the grouping leaves unchanged.
-#}
{{- rfm_check_raw_schema() }}
{%- set has_balances = rfm_relation_exists(source('enrichment', 'fact_balances')) %}

with

{% if has_balances -%}
source_balances as (
    select * from {{ source('enrichment', 'fact_balances') }}
),

balances as (
    select
        trim(user_id) as user_id,
        cast(start_date as date) as start_date,
        sum(cast(aum as {{ dbt.type_numeric() }})) as aum
    from source_balances
    where
        user_id is not null
        and trim(user_id) <> ''
        and start_date is not null
        and aum >= 0
    group by 1, 2
)

{%- else -%}
balances as (
    select
        cast(null as {{ rfm_type('text') }}) as user_id,
        cast(null as date) as start_date,
        cast(null as {{ dbt.type_numeric() }}) as aum
    where 1 = 0
)
{%- endif %}

select * from balances
