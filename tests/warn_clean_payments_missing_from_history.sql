-- Late data outside the lookback: clean payments that the latest snapshot does not count.
-- Without a window, the latest snapshot counts every clean payment, so per user the clean
-- payments minus the latest frequency are the payments a normal (incremental) run did not
-- include — dated before the periods it recomputed (negative: payments it still counts that
-- are no longer clean). The warning's count is the sum of those differences;
-- `dbt build --full-refresh` includes them. (After a full refresh it must be 0: the pytest
-- suite checks the history against an independent reference.) Payments count under their
-- customer (rfm_customer_payments), as in the history.
--
-- The sum per user is the difference of two totals: every clean payment, and the latest
-- period's frequencies. Those are counted first (a count over the payments, no grouping of
-- them by user); the per-user rows, which group every payment, are computed only when the
-- totals differ, to name the users.
{{ config(
    enabled=rfm_window_periods() is none,
    severity='warn',
    fail_calc='coalesce(sum(missing_payments), 0)',
    warn_if='!= 0',
) }}

{%- set history_ref = ref('rfm_segments_history') %}

{% set totals %}
select
    (
        select count(*) from ({{ rfm_clean_payments() }}) as payments
    ) - (
        select coalesce(sum(frequency), 0)
        from {{ history_ref }}
        where snapshot_period = (select max(h.snapshot_period) from {{ history_ref }} as h)
    ) as missing_payments
{% endset %}

{%- set totals_differ = true %}
{%- if execute and flags.WHICH in ['build', 'test'] and load_relation(history_ref) is not none %}
    {%- set totals_differ = run_query(totals).columns[0].values()[0] != 0 %}
{%- endif %}

with

history as (
    select * from {{ history_ref }}
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
),

differences as (
    select
        coalesce(clean_payments_per_user.user_id, current_segments.user_id) as user_id,
        coalesce(clean_payments_per_user.payments, 0)
        - coalesce(current_segments.frequency, 0) as missing_payments,
        coalesce(clean_payments_per_user.amount, 0)
        - coalesce(current_segments.monetary, 0) as missing_amount
    from clean_payments_per_user
    full outer join current_segments
        on clean_payments_per_user.user_id = current_segments.user_id
)

{%- if totals_differ %}

select * from differences
where missing_payments <> 0
{%- else %}

-- the totals are equal: no user to name
select * from differences
where 1 = 0
{%- endif %}
