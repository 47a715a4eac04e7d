{#-
    The features of rfm_user_features without its labels, per (snapshot_period, user_id)
    (docs: rfm_user_features_semantics). Features use only clean payments before the row's
    snapshot_at: the history's columns (already point in time) and sums over the dense
    user x period grid of the history, whose period p holds exactly the payments of period p
    (all before snapshot_at). Every sum is a difference of one running total: lifetime = running
    sum of the period's payments, last k periods = lifetime - lifetime k rows before. One sort
    per user, two window passes.

    Incremental, like the history: a run rewrites the periods from `recompute_from` (the last
    stored period minus rfm_lookback_periods) and reads only their payments. The stored rows of
    the `longest_window` periods before it are read back as context: their lifetime totals start
    the running totals and feed the differences. Labels are not stored: they change as periods
    close, and rfm_user_features (a view) takes them as differences of the stored lifetimes.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy=rfm_incremental_strategy(),
    unique_key='snapshot_period',
    partition_by=rfm_partition_by('snapshot_period'),
    on_schema_change='fail',
    pre_hook=[rfm_lock_model(), rfm_session_tuning()],
    post_hook=[rfm_analyze()],
    indexes=[{'columns': ['snapshot_period', 'user_id'], 'unique': true}],
    tags=['ml'],
) }}

{%- set horizon = rfm_positive_int_var('ltv_horizon_periods', 3, 1) -%}
{%- if horizon is none -%}
    {{ rfm_var_error('ltv_horizon_periods', 'null', 'expected an integer >= 1') }}
{%- endif -%}
{%- set trailing_windows = [1, 3, 6] -%}
{%- set longest_window = ([horizon] + trailing_windows) | max -%}
{%- set recompute_from = rfm_incremental_bounds().recompute_from -%}
{%- if recompute_from -%}
    {%- set context_from = rfm_shift_period(recompute_from, -longest_window) -%}
    {%- set state_period = rfm_shift_period(recompute_from, -1) -%}
    {{- rfm_check_stored_horizon(horizon) -}}
{%- endif -%}
{%- set by_user = 'partition by ' ~ rfm_text_in_byte_order('user_id')
    ~ ' order by snapshot_period' -%}
{%- set tenure_days = dbt.datediff('first_payment_at', 'snapshot_at', 'day') -%}
{%- set payment_span_days = dbt.datediff('first_payment_at', 'last_payment_at', 'day') -%}
{%- set history_columns = [
    'snapshot_at', 'is_period_closed', 'first_payment_at', 'last_payment_at', 'recency_days',
    'frequency', 'monetary', 'recency_score', 'frequency_score', 'monetary_score', 'rfm_segment',
] %}

with

history as (
    select * from {{ ref('rfm_segments_history') }}
    {%- if recompute_from %}
    where snapshot_period >= {{ rfm_date_literal(recompute_from) }}
    {%- endif %}
),

payments as (
    select
        user_id,
        payment_date,
        payment_amount
    from {{ ref('stg_billing__payments') }}
    where rejection_reason is null
    {%- if recompute_from %}
        and payment_date >= {{ rfm_date_literal(recompute_from) }}
    {%- endif %}
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

{%- if recompute_from %}

stored as (
    select
        user_id,
        snapshot_period,
        tenure_periods,
        lifetime_payments,
        lifetime_revenue
    from {{ this }}
    where
        snapshot_period >= {{ rfm_date_literal(context_from) }}
        and snapshot_period < {{ rfm_date_literal(recompute_from) }}
),
{%- endif %}

-- the rows this run writes, with the payments and revenue of their own period
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

-- what the running totals add up, row by row: a period's own values, or (context rows) the
-- stored totals of the period before recompute_from
grid as (
    select
        snapshot_period,
        user_id,
        {%- for column in history_columns %}
        {{ column }},
        {%- endfor %}
        false as is_context,
        cast(null as {{ dbt.type_bigint() }}) as stored_lifetime_payments,
        cast(null as {{ rfm_type('money') }}) as stored_lifetime_revenue,
        1 as tenure_step,
        period_payments as payments_step,
        period_revenue as revenue_step
    from activity
    {%- if recompute_from %}
    union all
    select
        snapshot_period,
        user_id,
        {%- for column in history_columns %}
        null as {{ column }},
        {%- endfor %}
        true as is_context,
        lifetime_payments as stored_lifetime_payments,
        lifetime_revenue as stored_lifetime_revenue,
        case
            when snapshot_period = {{ rfm_date_literal(state_period) }} then tenure_periods else 0
        end as tenure_step,
        case
            when snapshot_period = {{ rfm_date_literal(state_period) }} then lifetime_payments
            else 0
        end as payments_step,
        case
            when snapshot_period = {{ rfm_date_literal(state_period) }} then lifetime_revenue
            else 0
        end as revenue_step
    from stored
    {%- endif %}
),

running as (
    select
        *,
        sum(tenure_step) over (
            {{ by_user }} rows between unbounded preceding and current row
        ) as running_tenure,
        sum(payments_step) over (
            {{ by_user }} rows between unbounded preceding and current row
        ) as running_payments,
        sum(revenue_step) over (
            {{ by_user }} rows between unbounded preceding and current row
        ) as running_revenue
    from grid
),

lifetime as (
    select
        *,
        coalesce(stored_lifetime_payments, running_payments) as lifetime_payments,
        coalesce(stored_lifetime_revenue, running_revenue) as lifetime_revenue
    from running
),

windowed as (
    select
        *,
        {%- for periods in trailing_windows %}
        lifetime_payments
        - coalesce(lag(lifetime_payments, {{ periods }}) over ({{ by_user }}), 0)
            as payments_last_{{ periods }},
        lifetime_revenue
        - coalesce(lag(lifetime_revenue, {{ periods }}) over ({{ by_user }}), 0)
            as revenue_last_{{ periods }},
        {%- endfor %}
        lifetime_payments
        - coalesce(lag(lifetime_payments, {{ horizon }}) over ({{ by_user }}), 0)
            as payments_last_horizon,
        lifetime_revenue
        - coalesce(lag(lifetime_revenue, {{ horizon }}) over ({{ by_user }}), 0)
            as revenue_last_horizon
    from lifetime
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
        cast(running_tenure as {{ dbt.type_int() }}) as tenure_periods,
        frequency,
        monetary,
        cast(lifetime_payments as {{ dbt.type_bigint() }}) as lifetime_payments,
        cast(lifetime_revenue as {{ rfm_type('money') }}) as lifetime_revenue,
        {%- for periods in trailing_windows %}
        cast(payments_last_{{ periods }} as {{ dbt.type_bigint() }}) as payments_last_{{ periods }},
        cast(revenue_last_{{ periods }} as {{ rfm_type('money') }}) as revenue_last_{{ periods }},
        {%- endfor %}
        cast(payments_last_horizon as {{ dbt.type_bigint() }}) as payments_last_horizon,
        cast(revenue_last_horizon as {{ rfm_type('money') }}) as revenue_last_horizon,
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
        cast({{ horizon }} as {{ dbt.type_int() }}) as horizon_periods
    from windowed
    where not is_context
)

select * from final
