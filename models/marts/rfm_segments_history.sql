{#-
    One row per (snapshot_period, user_id): the user's RFM values, percentiles, scores and
    segment as of the snapshot of that period (docs/contract.md, "Snapshots"; docs:
    rfm_snapshot_semantics).

    A fold over periods (macros/folds/, step macros/history/rfm_history_step.sql): each period's rows come from the previous
    period's stored rows plus the period's payment aggregates, joined by user and ranked within
    the period. On a full build this select is the first step (the period of the first clean
    payment) and the post-hook runs the following ones; on an incremental run it selects no
    row and the post-hook runs every recomputed step, from the last stored period minus
    rfm_lookback_periods (macros/folds/rfm_fold_first_select.sql). A
    full build costs payments + users x periods, an incremental run the users of the recomputed
    periods, whatever the length of the history. On Spark, where every statement is a job with
    a start cost of seconds, the same rows come from one set-based statement
    (macros/history/rfm_history_in_one_statement.sql). Both score through
    macros/business_rules/rfm_scoring_ctes.sql, by the method of var rfm_<metric>_score_method
    (docs/scores.md); a change of method fails an incremental run (it needs --full-refresh).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy=rfm_incremental_strategy(),
    unique_key='snapshot_period',
    partition_by=rfm_partition_by('snapshot_period'),
    on_schema_change='fail',
    pre_hook=[rfm_lock_model(), rfm_session_tuning()],
    post_hook=[
        "{{ rfm_fold_remaining_periods(rfm_history_step) }}",
        "{{ rfm_store_score_methods() }}",
        "{{ rfm_store_customer_keys() }}",
        rfm_analyze(),
    ],
    indexes=rfm_unique_index(['snapshot_period', 'user_id']),
) }}

-- depends_on: {{ ref('rfm_score_thresholds') }}
{{ rfm_depends_on_customer_keys() }}
{#- the seed is read only by the metrics scored with `thresholds`: declared for every method,
    so that a change of method needs no other build order -#}
{%- do rfm_check_stored_score_methods() %}
{%- if target.type == 'spark' %}
{{ rfm_history_in_one_statement() }}
{%- else %}
{{ rfm_fold_first_select(rfm_history_step, rfm_fold_first_step()) }}
{%- endif %}
