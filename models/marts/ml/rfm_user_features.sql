{#-
    Point-in-time features per (snapshot_period, user_id) for data science, and the labels
    beside them (docs: rfm_user_features_semantics).

    A view: the features are stored incrementally in int_user_features; the labels are taken
    here, at read time, as differences of its stored lifetime totals. The label of period p is
    the lifetime at p + horizon minus the lifetime at p, filled when that later row exists and
    is closed (its snapshot_at is the end of the label window, so the window has happened).
    Stored labels would change whenever a period closes, and every scheduled run would rewrite
    `horizon` more periods of the features to keep them current.
-#}
{#- A table on Spark: `rfm` and the tests read Spark's tables as parquet files, which a view
    does not have. -#}
{{ config(materialized=('table' if target.type == 'spark' else 'view')) }}

{%- set horizon = rfm_positive_int_var('ltv_horizon_periods', 3, 1) -%}
{%- if horizon is none -%}
    {{ rfm_var_error('ltv_horizon_periods', 'null', 'expected an integer >= 1') }}
{%- endif -%}
{{- rfm_check_stored_horizon(horizon, ref('int_user_features')) }}

with

features as (
    select * from {{ ref('int_user_features') }}
),

-- the same table again, as its own CTE: a CTE read twice would be materialized whole by
-- PostgreSQL, and a reader's filter on snapshot_period would no longer reach the table
label_end_rows as (
    select
        user_id,
        snapshot_period,
        is_period_closed,
        lifetime_payments,
        lifetime_revenue
    from {{ ref('int_user_features') }}
),

label_ends as (
    select
        features.*,
        cast({{ dbt.dateadd(rfm_grain(), horizon, 'snapshot_period') }} as date)
            as label_end_period
    from features
),

labelled as (
    select
        label_ends.*,
        label_end.is_period_closed is not null
        and label_end.is_period_closed as is_label_complete,
        label_end.lifetime_payments - label_ends.lifetime_payments as future_payments,
        label_end.lifetime_revenue - label_ends.lifetime_revenue as future_revenue
    from label_ends
    left join label_end_rows as label_end
        on
            label_ends.user_id = label_end.user_id
            and label_ends.label_end_period = label_end.snapshot_period
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
        cast(
            {{ dbt.dateadd(rfm_grain(), horizon, 'snapshot_at') }} as {{ dbt.type_timestamp() }}
        ) as label_window_end_at,
        is_label_complete,
        case
            when is_label_complete then cast(future_payments as {{ dbt.type_bigint() }})
        end as next_payments,
        case
            when is_label_complete then cast(future_revenue as {{ rfm_type('money') }})
        end as next_revenue
    from labelled
)

select * from final
