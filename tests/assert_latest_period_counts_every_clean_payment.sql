-- Without a window, the latest snapshot counts every clean payment exactly once: per user, its
-- frequency and monetary equal the user's clean payments (no valid payment is missing).
{{ config(enabled=rfm_window_periods() is none) }}

with

current_segments as (
    select * from {{ ref('rfm_segments_current') }}
),

clean_payments_per_user as (
    select
        user_id,
        count(*) as payments,
        sum(payment_amount) as amount
    from {{ ref('stg_billing__payments') }}
    where rejection_reason is null
    group by user_id
)

select
    coalesce(current_segments.user_id, clean_payments_per_user.user_id) as user_id,
    current_segments.frequency,
    clean_payments_per_user.payments,
    current_segments.monetary,
    clean_payments_per_user.amount
from current_segments
full outer join clean_payments_per_user
    on current_segments.user_id = clean_payments_per_user.user_id
where
    current_segments.user_id is null
    or clean_payments_per_user.user_id is null
    or current_segments.frequency <> clean_payments_per_user.payments
    or current_segments.monetary <> clean_payments_per_user.amount
