{#-
    The sums behind rfm_user_features, per (snapshot_period, user_id) (docs:
    rfm_user_features_semantics): tenure in periods, lifetime payments and revenue, and the
    payments and revenue of the last 1, 3, 6 and ltv_horizon_periods periods, on the history's
    user x period grid (every period from the user's first clean payment on). rfm_user_features
    joins it with the history.

    A fold over periods, like the history (macros/folds/, step
    macros/features/rfm_user_features_step.sql): each period's rows come from the previous
    period's stored rows plus the period's payment aggregates. This select is the first step of
    a full build, and the post-hook runs the others (every recomputed one on an incremental
    run: macros/folds/rfm_fold_first_select.sql). On Spark the same rows come from one set-based statement
    (macros/features/rfm_user_features_in_one_statement.sql). Labels are not stored: they change
    as periods close, and rfm_user_features (a view) takes them as differences of the stored
    lifetimes.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy=rfm_incremental_strategy(),
    unique_key='snapshot_period',
    partition_by=rfm_partition_by('snapshot_period'),
    on_schema_change='fail',
    pre_hook=[rfm_lock_model(), rfm_session_tuning()],
    post_hook=[
        "{{ rfm_fold_remaining_periods(rfm_user_features_step) }}",
        "{{ rfm_store_customer_keys() }}",
        rfm_analyze(),
    ],
    indexes=rfm_unique_index(['snapshot_period', 'user_id']),
    tags=['ml'],
) }}

-- depends_on: {{ ref('int_payments_per_user_period') }}
{{ rfm_depends_on_customer_keys() }}
{%- set horizon = rfm_ltv_horizon_periods() -%}
{%- if is_incremental() %}{{ rfm_check_stored_horizon(horizon) }}{% endif -%}
{%- if target.type == 'spark' %}
{{ rfm_user_features_in_one_statement(horizon) }}
{%- else %}
{{ rfm_fold_first_select(rfm_user_features_step, rfm_fold_first_step()) }}
{%- endif %}
