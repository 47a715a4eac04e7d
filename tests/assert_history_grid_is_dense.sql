-- Each user has exactly one row in every period from the period of their first clean payment to
-- the latest period (SPEC.md: "A user appears in every period from the one of their first clean
-- payment onwards"). Returns the users whose rows do not form that range.

with

history as (
    select * from {{ ref('rfm_segments_history') }}
),

periods as (
    select * from {{ ref('int_rfm_periods') }}
),

rows_per_user as (
    select
        user_id,
        min(snapshot_period) as first_period,
        min({{ rfm_period_start('first_payment_at') }}) as first_payment_period,
        count(*) as user_rows
    from history
    group by user_id
),

periods_per_user as (
    select
        rows_per_user.user_id,
        count(periods.period_start) as expected_rows
    from rows_per_user
    inner join periods
        on rows_per_user.first_period <= periods.period_start
    group by rows_per_user.user_id
)

select
    rows_per_user.*,
    periods_per_user.expected_rows
from rows_per_user
inner join periods_per_user
    on rows_per_user.user_id = periods_per_user.user_id
where
    rows_per_user.user_rows <> periods_per_user.expected_rows
    or rows_per_user.first_period <> rows_per_user.first_payment_period
