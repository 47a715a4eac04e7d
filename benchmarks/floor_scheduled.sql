-- The scheduled run's floor: the work no scheduled run can avoid on this database once one new
-- period has arrived. It recomputes the last stored period and rfm_lookback_periods (1) before
-- it, plus the new period: the periods from the start of the period two before the last one on.
-- One aggregation pass over those periods' payments by (user, period), then writing a table of
-- the size of the rows the scheduled run rewrites: one row per user and recomputed period from
-- the user's first period on, with the history's columns (filled from the period's own
-- aggregates; no lifetime totals carried forward, no ranking, no cleaning).
--
-- The user list (every user with a payment before rfm_as_of, with their first period) is read
-- from the raw payments, so this statement scans all of them once: a scheduled run that keeps
-- its users elsewhere reads less, but any run has to know who its users are.
--
-- One statement, reading only the raw tables. Parameters are psql variables:
--   psql -v rfm_as_of='2025-01-01 00:00:00' -v raw_schema=raw -f benchmarks/floor_scheduled.sql
-- (`rfm bench` substitutes them and runs `create table ... as` this statement.)

with

recomputed_periods as (
    select distinct cast(date_trunc('month', date_day) as date) as period_start
    from :"raw_schema".dim_calendar
    where
        date_day < cast(:'rfm_as_of' as timestamp)
        and date_day >= date_trunc(
            'month', cast(:'rfm_as_of' as timestamp) - interval '1 second'
        ) - interval '2 month'
),

payments_per_user_period as (
    select
        user_id,
        cast(date_trunc('month', payment_date) as date) as period_start,
        count(*) as payments,
        sum(payment_amount) as amount,
        min(payment_date) as first_payment_at,
        max(payment_date) as last_payment_at
    from :"raw_schema".fact_payments
    where
        payment_date < cast(:'rfm_as_of' as timestamp)
        and payment_date >= date_trunc(
            'month', cast(:'rfm_as_of' as timestamp) - interval '1 second'
        ) - interval '2 month'
    group by 1, 2
),

user_grid_starts as (
    select
        user_id,
        cast(date_trunc('month', min(payment_date)) as date) as grid_start
    from :"raw_schema".fact_payments
    where payment_date < cast(:'rfm_as_of' as timestamp)
    group by 1
)

select
    recomputed_periods.period_start as snapshot_period,
    cast(:'rfm_as_of' as timestamp) as snapshot_at,
    true as is_period_closed,
    user_grid_starts.user_id,
    payments_per_user_period.first_payment_at,
    payments_per_user_period.last_payment_at,
    0 as recency_days,
    coalesce(payments_per_user_period.payments, 0) as frequency,
    coalesce(payments_per_user_period.amount, 0) as monetary,
    0.0::float8 as recency_percentile,
    0.0::float8 as frequency_percentile,
    0.0::float8 as monetary_percentile,
    1 as recency_score,
    1 as frequency_score,
    1 as monetary_score,
    'Hibernating' as rfm_segment,
    cast(null as text) as previous_segment,
    user_grid_starts.grid_start as segment_since
from user_grid_starts
inner join recomputed_periods
    on user_grid_starts.grid_start <= recomputed_periods.period_start
left join payments_per_user_period
    on
        user_grid_starts.user_id = payments_per_user_period.user_id
        and recomputed_periods.period_start = payments_per_user_period.period_start
