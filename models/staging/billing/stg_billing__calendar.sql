{{- rfm_check_raw_schema() }}

with

source_calendar as (
    select * from {{ source('billing', 'dim_calendar') }}
),

days as (
    select distinct
        cast(date_day as date) as date_day,
        cast(date_month as date) as date_month
    from source_calendar
    where date_day is not null
)

select * from days
