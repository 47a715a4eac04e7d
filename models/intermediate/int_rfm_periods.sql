{#-
    The snapshot periods (docs/contract.md, "Snapshots"): the distinct periods of the calendar
    that start before rfm_as_of, each with the instant its snapshot is taken at. A period is
    closed when the next one has started by rfm_as_of; the last one is open and snapshotted at
    rfm_as_of.
    Whether the calendar covers every period the payments need is checked by the
    calendar_covers_payment_periods test on this model.
-#}

with

calendar as (
    select * from {{ ref('stg_billing__calendar') }}
),

periods as (
    select distinct {{ rfm_period_start('date_day') }} as period_start
    from calendar
),

periods_with_bounds as (
    select
        period_start,
        {{ rfm_period_add('period_start', 1) }} as next_period_start
    from periods
    where period_start < {{ rfm_as_of() }}
),

snapshots as (
    select
        period_start,
        case
            when next_period_start <= {{ rfm_as_of() }} then next_period_start
            else {{ rfm_as_of() }}
        end as snapshot_at,
        next_period_start <= {{ rfm_as_of() }} as is_period_closed
    from periods_with_bounds
)

select * from snapshots
