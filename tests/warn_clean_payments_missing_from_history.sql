-- Late data outside the lookback: clean payments that the latest snapshot does not count.
-- Without a window, the latest snapshot counts every clean payment, so per user the clean
-- payments minus the latest frequency are the payments a normal (incremental) run did not
-- include — dated before the periods it recomputed. The warning's count is that number of
-- payments; `dbt build --full-refresh` includes them. (After a full refresh it must be 0: the
-- pytest suite checks the history against an independent reference.) Payments count under
-- their customer (rfm_customer_payments), as in the history.
{{ config(
    enabled=rfm_window_periods() is none,
    severity='warn',
    fail_calc='coalesce(sum(missing_payments), 0)',
    warn_if='!= 0',
) }}

with

history as (
    select * from {{ ref('rfm_segments_history') }}
),

latest_period as (
    select max(snapshot_period) as snapshot_period from history
),

current_segments as (
    select
        history.user_id,
        history.frequency,
        history.monetary
    from history
    inner join latest_period on history.snapshot_period = latest_period.snapshot_period
),

clean_payments_per_user as (
    select
        user_id,
        count(*) as payments,
        sum(payment_amount) as amount
    from ({{ rfm_customer_payments() }}) as payments
    group by 1
)

select
    clean_payments_per_user.user_id,
    clean_payments_per_user.payments
    - coalesce(current_segments.frequency, 0) as missing_payments,
    clean_payments_per_user.amount - coalesce(current_segments.monetary, 0) as missing_amount
from clean_payments_per_user
left join current_segments
    on clean_payments_per_user.user_id = current_segments.user_id
where
    current_segments.user_id is null
    or clean_payments_per_user.payments <> current_segments.frequency
