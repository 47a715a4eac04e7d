{#-
    SQL: the history rows of every period a run computes, in one statement, for Spark: there
    every statement is a job with a start cost of seconds, so the fold's statement per period
    (rfm_history_step) would cost more than this set-based query. Same rows (the reference
    comparisons run on every engine): the users' running totals are window sums over the dense
    user x period grid of int_payments_per_user_period, `lag()` gives previous_segment and a
    running max of the runs' starts segment_since; an incremental run starts them from the
    stored rows of the period before the first recomputed one.
-#}
{% macro rfm_history_in_one_statement() -%}
{%- set window_periods = rfm_window_periods() -%}
{%- set bounds = rfm_incremental_bounds() -%}
{%- set recompute_from = bounds.recompute_from -%}
{%- set compute_from = bounds.compute_from -%}
{%- set state_period = bounds.state_period -%}
{#- Per-user windows partition in byte order: the same partitions under any deterministic
    collation, and PostgreSQL sorts with memcmp and abbreviated keys instead of the locale. -#}
{%- set activity_user = rfm_text_in_byte_order('activity.user_id') -%}
{%- set user_to_date = 'partition by ' ~ activity_user ~ ' order by activity.period_start'
    ~ ' rows between unbounded preceding and current row' -%}
{%- set user_window = 'partition by ' ~ activity_user ~ ' order by activity.period_start'
    ~ ' rows between ' ~ ((window_periods or 1) - 1) ~ ' preceding and current row' %}

with

periods as (
    select * from {{ ref('int_rfm_periods') }}
    {%- if compute_from %}
    where period_start >= {{ rfm_date_literal(compute_from) }}
    {%- endif %}
),

-- joined on one key: with the two scores, PostgreSQL's estimates made it hash the history
-- (1.45M rows at M) instead of the 25 rows of the map
segment_map as (
    select
        rfm_segment,
        recency_score * 10 + frequency_score as score_pair
    from {{ ref('rfm_segment_map') }}
),

{%- if state_period %}

-- the history up to the period before recompute_from, compressed to one row per user
stored_state as (
    select
        user_id,
        first_payment_at,
        last_payment_at,
        frequency,
        monetary,
        rfm_segment,
        segment_since
    from {{ this }}
    where snapshot_period = {{ rfm_date_literal(state_period) }}
),
{%- endif %}

payments_per_user_period as (
    select
        user_id,
        period_start,
        payments,
        amount,
        first_payment_at,
        last_payment_at
    from {{ ref('int_payments_per_user_period') }}
    {%- if compute_from %}
    where period_start >= {{ rfm_date_literal(compute_from) }}
    {%- endif %}
),

-- a user appears in every period from the one of their first clean payment onwards
user_grid_starts as (
    {%- if state_period %}
    select
        user_id,
        min(grid_start) as grid_start
    from (
        select
            user_id,
            min(period_start) as grid_start
        from payments_per_user_period
        where period_start >= {{ rfm_date_literal(recompute_from) }}
        group by 1
        union all
        select
            user_id,
            {{ rfm_date_literal(compute_from) }} as grid_start
        from stored_state
    ) as grid_starts
    group by 1
    {%- else %}
    select
        user_id,
        min(period_start) as grid_start
    from payments_per_user_period
    group by 1
    {%- endif %}
),

user_periods as (
    select
        user_grid_starts.user_id,
        periods.period_start,
        periods.snapshot_at,
        periods.is_period_closed
    from user_grid_starts
    inner join periods
        on user_grid_starts.grid_start <= periods.period_start
),

activity as (
    select
        user_periods.*,
        coalesce(payments_per_user_period.payments, 0) as payments,
        coalesce(payments_per_user_period.amount, 0) as amount,
        payments_per_user_period.first_payment_at as period_first_payment_at,
        payments_per_user_period.last_payment_at as period_last_payment_at
    from user_periods
    -- joined in the byte order of the per-user windows: one sort of the grid serves both
    left join payments_per_user_period
        on
            {{ rfm_text_in_byte_order('user_periods.user_id') }}
            = {{ rfm_text_in_byte_order('payments_per_user_period.user_id') }}
            and user_periods.period_start = payments_per_user_period.period_start
),

cumulated as (
    select
        activity.user_id,
        activity.period_start,
        activity.snapshot_at,
        activity.is_period_closed,
        {%- if state_period %}
        coalesce(
            stored_state.first_payment_at,
            min(activity.period_first_payment_at) over ({{ user_to_date }})
        ) as first_payment_at,
        coalesce(
            max(
                case
                    when activity.period_start >= {{ rfm_date_literal(recompute_from) }}
                        then activity.period_last_payment_at
                end
            ) over ({{ user_to_date }}),
            stored_state.last_payment_at
        ) as last_payment_at,
        {%- else %}
        min(activity.period_first_payment_at) over ({{ user_to_date }}) as first_payment_at,
        max(activity.period_last_payment_at) over ({{ user_to_date }}) as last_payment_at,
        {%- endif %}
        {%- if window_periods %}
        sum(activity.payments) over ({{ user_window }}) as frequency,
        sum(activity.amount) over ({{ user_window }}) as monetary,
        {%- elif state_period %}
        coalesce(stored_state.frequency, 0)
        + sum(activity.payments) over ({{ user_to_date }}) as frequency,
        coalesce(stored_state.monetary, 0)
        + sum(activity.amount) over ({{ user_to_date }}) as monetary,
        {%- else %}
        sum(activity.payments) over ({{ user_to_date }}) as frequency,
        sum(activity.amount) over ({{ user_to_date }}) as monetary,
        {%- endif %}
        {%- if state_period %}
        stored_state.rfm_segment as stored_segment,
        stored_state.segment_since as stored_segment_since
        {%- else %}
        cast(null as {{ rfm_type('text') }}) as stored_segment,
        cast(null as date) as stored_segment_since
        {%- endif %}
    from activity
    {% if state_period -%}
    left join stored_state
        on activity.user_id = stored_state.user_id
    {%- endif %}
),

snapshots as (
    select
        *,
        {{ dbt.datediff('last_payment_at', 'snapshot_at', 'day') }} as recency_days  -- noqa: LT05
    from cumulated
    {%- if recompute_from %}
    where period_start >= {{ rfm_date_literal(recompute_from) }}
    {%- endif %}
),

{{ rfm_scoring_ctes('snapshots', 'period_start') }},

segmented as (
    select
        scored.*,
        segment_map.rfm_segment
    from scored
    left join segment_map
        on scored.recency_score * 10 + scored.frequency_score = segment_map.score_pair
),

with_previous_segment as (
    select
        *,
        coalesce(
            lag(rfm_segment) over (
                partition by {{ rfm_text_in_byte_order('user_id') }} order by period_start
            ),
            stored_segment
        ) as previous_segment
    from segmented
),

-- gaps and islands: a run of equal segments starts where the segment changes; a run that
-- was already going on in the stored state keeps its stored start
run_starts as (
    select
        *,
        case
            when previous_segment is null or previous_segment <> rfm_segment then period_start
            {%- if recompute_from %}
            when period_start = {{ rfm_date_literal(recompute_from) }} then stored_segment_since
            {%- endif %}
        end as run_start
    from with_previous_segment
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
        max(run_start) over (
            partition by {{ rfm_text_in_byte_order('user_id') }}
            order by period_start
            rows between unbounded preceding and current row
        ) as segment_since
    from run_starts
)

select * from final
{%- endmacro %}
