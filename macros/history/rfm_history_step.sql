{#-
    The history as a fold over periods: the rows of a period are computed from the rows of the
    period before it (stored in {{ this }}) and the period's own payment aggregates
    (int_payments_per_user_period). Each step joins one period's users by user_id and ranks
    them within the period; nothing sorts the whole user x period grid. A full build and an
    incremental run are the same steps, started from the first period with payments or from
    the first recomputed period (SPEC.md, "Public tables": incremental equals --full-refresh by
    construction).

    On a full build the model's own select is the first step (the table dbt creates); its
    post-hook rfm_fold_remaining_periods(rfm_history_step) runs the later ones, in the same
    transaction, and every recomputed one on an incremental run (rfm_fold_first_select).
-#}


{#- SQL: the history rows of one period (a python date). previous_period: the period whose
    stored rows carry the users' state forward (none: no user existed before `period`). -#}
{% macro rfm_history_step(period, previous_period) -%}
    {%- set window_periods = rfm_window_periods() -%}
    {%- set period = rfm_to_date(period) -%}
    {%- set previous_period = rfm_to_date(previous_period) -%}
with

snapshot as (
    select
        period_start,
        snapshot_at,
        is_period_closed
    from {{ ref('int_rfm_periods') }}
    where period_start = {{ rfm_date_literal(period) }}
),

payments_in_period as (
    {{ rfm_period_payments(
        period, ['user_id', 'payments', 'amount', 'first_payment_at', 'last_payment_at']
    ) }}
),

{%- if window_periods %}

-- the payments of the period that leaves the window of W periods
payments_leaving_window as (
    {{ rfm_period_payments(rfm_shift_period(period, -window_periods)) }}
),
{%- endif %}

previous_rows as (
    {%- if previous_period is not none %}
    select
        user_id,
        first_payment_at,
        last_payment_at,
        frequency,
        monetary,
        rfm_segment,
        segment_since
    from {{ this }}
    where snapshot_period = {{ rfm_date_literal(previous_period) }}
    {%- else %}
    -- the first period of the history: no user existed before it
    select
        user_id,
        first_payment_at,
        last_payment_at,
        payments as frequency,
        amount as monetary,
        cast(null as {{ rfm_type('text') }}) as rfm_segment,
        cast(null as date) as segment_since
    from payments_in_period
    where 1 = 0
    {%- endif %}
),

-- every user with a payment before the snapshot: those of the previous period, and the new ones
users_to_date as (
    select
        coalesce(previous_rows.user_id, payments_in_period.user_id) as user_id,
        coalesce(previous_rows.first_payment_at, payments_in_period.first_payment_at)
            as first_payment_at,
        coalesce(payments_in_period.last_payment_at, previous_rows.last_payment_at)
            as last_payment_at,
        coalesce(previous_rows.frequency, 0)
        + coalesce(payments_in_period.payments, 0)
        {%- if window_periods %}
        - coalesce(payments_leaving_window.payments, 0)
        {%- endif %} as frequency,
        coalesce(previous_rows.monetary, 0)
        + coalesce(payments_in_period.amount, 0)
        {%- if window_periods %}
        - coalesce(payments_leaving_window.amount, 0)
        {%- endif %} as monetary,
        previous_rows.rfm_segment as previous_segment,
        previous_rows.segment_since as previous_segment_since
    from previous_rows
    full outer join payments_in_period
        on previous_rows.user_id = payments_in_period.user_id
    {%- if window_periods %}
    left join payments_leaving_window
        on coalesce(previous_rows.user_id, payments_in_period.user_id)
        = payments_leaving_window.user_id
    {%- endif %}
),

snapshots as (
    select
        snapshot.period_start,
        snapshot.snapshot_at,
        snapshot.is_period_closed,
        users_to_date.*,
        {{ dbt.datediff('users_to_date.last_payment_at', 'snapshot.snapshot_at', 'day') }}
            as recency_days
    from users_to_date
    cross join snapshot
),

-- one period: the ranks need no partition
{{ rfm_scoring_ctes('snapshots') }},

segment_map as (
    select
        rfm_segment,
        recency_score * 10 + frequency_score as score_pair
    from {{ ref('rfm_segment_map') }}
),

segmented as (
    select
        scored.*,
        segment_map.rfm_segment
    from scored
    left join segment_map
        on scored.recency_score * 10 + scored.frequency_score = segment_map.score_pair
),

final as (
    select
        period_start as snapshot_period,
        snapshot_at,
        is_period_closed,
        user_id,
        first_payment_at,
        last_payment_at,
        cast(recency_days as {{ dbt.type_int() }}) as recency_days,
        cast(frequency as {{ dbt.type_bigint() }}) as frequency,
        cast(monetary as {{ rfm_type('money') }}) as monetary,
        recency_percentile,
        frequency_percentile,
        monetary_percentile,
        recency_score,
        frequency_score,
        monetary_score,
        rfm_segment,
        previous_segment,
        -- a run of equal segments goes on from the previous period, or starts with this one
        case
            when rfm_segment = previous_segment then previous_segment_since
            else period_start
        end as segment_since
    from segmented
)

select * from final
{%- endmacro %}
