{#-
    Point-in-time features per (snapshot_period, user_id) for data science, and the labels
    beside them (docs: rfm_user_features_semantics).

    A view over two incremental tables built side by side: the history (recency, frequency,
    monetary, scores, segment, first/last payment) and int_user_features (tenure, lifetime and
    trailing sums, on the same user x period grid). The labels are taken here, at read time, as
    differences of the stored lifetime totals: the label of period p is the lifetime at
    p + horizon minus the lifetime at p, filled when that later row exists and is closed (its
    snapshot_at is the end of the label window, so the window has happened). Stored labels
    would change whenever a period closes, and every scheduled run would rewrite `horizon` more
    periods to keep them current.

    Each table is its own CTE, read once: PostgreSQL materializes a CTE read twice, and a
    reader's filter on snapshot_period would no longer reach the tables' indexes.
-#}
{#- A table on Spark: `rfm` and the tests read Spark's tables as parquet files, which a view
    does not have. -#}
{{ config(materialized=('table' if target.type == 'spark' else 'view')) }}

{%- set horizon = rfm_ltv_horizon_periods() -%}
{{- rfm_check_stored_horizon(horizon, ref('int_user_features')) }}

{%- set tenure_days = dbt.datediff('history.first_payment_at', 'history.snapshot_at', 'day') -%}
{%- set payment_span_days = dbt.datediff(
    'history.first_payment_at', 'history.last_payment_at', 'day'
) %}

with

history as (
    select * from {{ ref('rfm_segments_history') }}
),

features as (
    select * from {{ ref('int_user_features') }}
),

label_end_rows as (
    select
        user_id,
        snapshot_period,
        is_period_closed,
        lifetime_payments,
        lifetime_revenue
    from {{ ref('int_user_features') }}
),

joined as (
    select
        history.snapshot_period,
        history.snapshot_at,
        history.is_period_closed,
        history.user_id,
        history.first_payment_at,
        history.last_payment_at,
        history.recency_days,
        cast({{ tenure_days }} as {{ dbt.type_int() }}) as tenure_days,  -- noqa: LT05
        features.tenure_periods,
        history.frequency,
        history.monetary,
        features.lifetime_payments,
        features.lifetime_revenue,
        features.payments_last_1,
        features.revenue_last_1,
        features.payments_last_3,
        features.revenue_last_3,
        features.payments_last_6,
        features.revenue_last_6,
        features.payments_last_horizon,
        features.revenue_last_horizon,
        cast(
            features.lifetime_revenue / features.lifetime_payments as {{ rfm_type('money') }}
        ) as avg_order_value,
        case
            when features.lifetime_payments > 1
                then cast({{ payment_span_days }} as {{ rfm_type('double') }})  -- noqa: LT05
                    / (features.lifetime_payments - 1)
        end as mean_days_between_payments,
        history.recency_score,
        history.frequency_score,
        history.monetary_score,
        history.rfm_segment,
        features.horizon_periods,
        cast(
            {{ dbt.dateadd(rfm_grain(), horizon, 'history.snapshot_at') }}
            as {{ dbt.type_timestamp() }}
        ) as label_window_end_at,
        label_end.is_period_closed is not null
        and label_end.is_period_closed as is_label_complete,
        label_end.lifetime_payments - features.lifetime_payments as future_payments,
        label_end.lifetime_revenue - features.lifetime_revenue as future_revenue
    from history
    inner join features
        on
            history.snapshot_period = features.snapshot_period
            and history.user_id = features.user_id
    left join label_end_rows as label_end
        on
            features.user_id = label_end.user_id
            and label_end.snapshot_period
            = cast({{ dbt.dateadd(rfm_grain(), horizon, 'features.snapshot_period') }} as date)
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
        tenure_days,
        tenure_periods,
        frequency,
        monetary,
        lifetime_payments,
        lifetime_revenue,
        payments_last_1,
        revenue_last_1,
        payments_last_3,
        revenue_last_3,
        payments_last_6,
        revenue_last_6,
        payments_last_horizon,
        revenue_last_horizon,
        avg_order_value,
        mean_days_between_payments,
        recency_score,
        frequency_score,
        monetary_score,
        rfm_segment,
        horizon_periods,
        label_window_end_at,
        is_label_complete,
        case
            when is_label_complete then cast(future_payments as {{ dbt.type_bigint() }})
        end as next_payments,
        case
            when is_label_complete then cast(future_revenue as {{ rfm_type('money') }})
        end as next_revenue
    from joined
)

select * from final
