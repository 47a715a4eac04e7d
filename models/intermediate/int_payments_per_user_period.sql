{#-
    One row per (period_start, user_id) with clean payments in that period: their count, sum,
    first and last instant. user_id is the customer (rfm_customer_payments): with rfm_identity =
    'profile', the smallest user_id of the payer's profile. The one aggregation of the payments that the history folds over
    (each period's step reads its own rows through the (period_start, user_id) index) and that
    the point-in-time features read.

    Incremental: a run recomputes the last stored period and rfm_lookback_periods before it (the
    periods whose payments stg_billing__payments may have screened again), after deleting them
    all, so that a period left without any clean payment keeps no stale row; from earlier when
    customer keys changed (rfm_recompute_from). On Spark, whose
    insert_overwrite replaces only the partitions a run writes, the table is rebuilt instead.
-#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[rfm_lock_model(), "{{ rfm_delete_recomputed_periods('period_start') }}"],
    post_hook=[rfm_analyze(), "{{ rfm_store_customer_keys() }}"],
    indexes=rfm_unique_index(['period_start', 'user_id']),
) }}

{%- set bounds = rfm_incremental_bounds('period_start') %}

with

payments as (
    {{ rfm_customer_payments(since=bounds.recompute_from) }}
),

payments_per_user_period as (
    select
        user_id,
        {{ rfm_period_start('payment_date') }} as period_start,
        count(*) as payments,
        sum(payment_amount) as amount,
        min(payment_date) as first_payment_at,
        max(payment_date) as last_payment_at
    from payments
    group by 1, 2
)

select * from payments_per_user_period
{{- rfm_stored_in_order_of('period_start') }}
