{#-
    Point-in-time features per (snapshot_period, user_id) for data science, and the labels
    beside them (docs: rfm_user_features_semantics).

    Features use only clean payments before the row's snapshot_at: the history's columns (already
    point in time) and running/trailing sums over the dense user x period grid of the history,
    whose period p holds exactly the payments of period p (all before snapshot_at). Labels sum
    the payments of the next ltv_horizon_periods periods (rows following in the same grid) and
    are filled only when that window has closed by rfm_as_of.

    A table, rebuilt each run: labels of the last ltv_horizon_periods stored periods change when
    a new period closes, and the trailing windows reach 6 periods back, so an incremental run
    would have to recompute max(lookback, horizon) + 6 periods of every user; the rebuild is one
    pass over the history (users x periods) and a per-user-period aggregation of the payments.
-#}
{{ config(
    pre_hook=[rfm_session_tuning()],
    indexes=[{'columns': ['snapshot_period', 'user_id'], 'unique': true}],
) }}

{%- set horizon = rfm_positive_int_var('ltv_horizon_periods', 3, 1) -%}
{%- if horizon is none -%}
    {{ rfm_var_error('ltv_horizon_periods', 'null', 'expected an integer >= 1') }}
{%- endif -%}
{%- set by_user = 'partition by ' ~ rfm_text_in_byte_order('user_id')
    ~ ' order by snapshot_period' -%}
{%- set tenure_days = dbt.datediff('first_payment_at', 'snapshot_at', 'day') -%}
{%- set payment_span_days = dbt.datediff('first_payment_at', 'last_payment_at', 'day') -%}
{%- set trailing_windows = [1, 3, 6] %}

with

history as (
    select * from {{ ref('rfm_segments_history') }}
),

payments as (
    select
        user_id,
        payment_date,
        payment_amount
    from {{ ref('stg_billing__payments') }}
    where rejection_reason is null
),

payments_per_user_period as (
    select
        user_id,
        {{ rfm_period_start('payment_date') }} as period_start,
        count(*) as payments,
        sum(payment_amount) as revenue
    from payments
    group by 1, 2
),

-- every clean payment falls in a period of its user's grid (the grid runs from the user's first
-- payment to the latest period, and no clean payment is at or after rfm_as_of)
activity as (
    select
        history.*,
        coalesce(payments_per_user_period.payments, 0) as period_payments,
        coalesce(payments_per_user_period.revenue, 0) as period_revenue
    from history
    left join payments_per_user_period
        on
            history.user_id = payments_per_user_period.user_id
            and history.snapshot_period = payments_per_user_period.period_start
),

windowed as (
    select
        *,
        row_number() over ({{ by_user }}) as tenure_periods,
        sum(period_payments) over (
            {{ by_user }} rows between unbounded preceding and current row
        ) as lifetime_payments,
        sum(period_revenue) over (
            {{ by_user }} rows between unbounded preceding and current row
        ) as lifetime_revenue,
        {%- for periods in trailing_windows %}
        sum(period_payments) over (
            {{ by_user }} rows between {{ periods - 1 }} preceding and current row
        ) as payments_last_{{ periods }},
        sum(period_revenue) over (
            {{ by_user }} rows between {{ periods - 1 }} preceding and current row
        ) as revenue_last_{{ periods }},
        {%- endfor %}
        sum(period_payments) over (
            {{ by_user }} rows between {{ horizon - 1 }} preceding and current row
        ) as payments_last_horizon,
        sum(period_revenue) over (
            {{ by_user }} rows between {{ horizon - 1 }} preceding and current row
        ) as revenue_last_horizon,
        -- labels: the next `horizon` periods of the same dense grid
        sum(period_payments) over (
            {{ by_user }} rows between 1 following and {{ horizon }} following
        ) as future_payments,
        sum(period_revenue) over (
            {{ by_user }} rows between 1 following and {{ horizon }} following
        ) as future_revenue,
        {{ dbt.dateadd(rfm_grain(), horizon, 'snapshot_at') }} as label_window_end_at
    from activity
),

labelled as (
    select
        *,
        is_period_closed
        and label_window_end_at <= {{ rfm_as_of() }} as is_label_complete
    from windowed
),

final as (
    select
        snapshot_period,
        snapshot_at,
        is_period_closed,
        user_id,
        first_payment_at,
        last_payment_at,
        recency_days,
        cast({{ tenure_days }} as {{ dbt.type_int() }}) as tenure_days,  -- noqa: LT05
        cast(tenure_periods as {{ dbt.type_int() }}) as tenure_periods,
        frequency,
        monetary,
        cast(lifetime_payments as {{ dbt.type_bigint() }}) as lifetime_payments,
        lifetime_revenue,
        {%- for periods in trailing_windows %}
        cast(payments_last_{{ periods }} as {{ dbt.type_bigint() }}) as payments_last_{{ periods }},
        revenue_last_{{ periods }},
        {%- endfor %}
        cast(payments_last_horizon as {{ dbt.type_bigint() }}) as payments_last_horizon,
        revenue_last_horizon,
        cast(lifetime_revenue / lifetime_payments as {{ rfm_type('money') }}) as avg_order_value,
        case
            when lifetime_payments > 1
                then cast({{ payment_span_days }} as {{ rfm_type('double') }})  -- noqa: LT05
                    / (lifetime_payments - 1)
        end as mean_days_between_payments,
        recency_score,
        frequency_score,
        monetary_score,
        rfm_segment,
        cast({{ horizon }} as {{ dbt.type_int() }}) as horizon_periods,
        cast(label_window_end_at as {{ dbt.type_timestamp() }}) as label_window_end_at,
        is_label_complete,
        case
            when is_label_complete then cast(future_payments as {{ dbt.type_bigint() }})
        end as next_payments,
        case when is_label_complete then future_revenue end as next_revenue
    from labelled
)

select * from final
