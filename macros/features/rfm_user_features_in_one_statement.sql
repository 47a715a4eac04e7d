{#-
    SQL: every int_user_features row a run writes, in one set-based statement, for Spark, where
    a statement per period (the fold, rfm_user_features_step) costs seconds each. The same rows
    as the fold (compared with the reference on every engine).

    Every sum is a difference of one running total: lifetime = running sum of the period's
    payments, last k periods = lifetime - lifetime k rows before. One sort per user, two window
    passes. An incremental run rewrites the periods from `recompute_from` (the last stored
    period minus rfm_lookback_periods) and reads only their rows of int_payments_per_user_period; the stored lifetime totals
    of the `longest_window` periods before it are read back, one row per user (`stored_state`,
    `payments_before_j` = lifetime at recompute_from - j periods): they continue the user's
    grid, start the running totals, and a row fewer than k periods after recompute_from takes
    its "lifetime k periods before" from them.
-#}
{% macro rfm_user_features_in_one_statement(horizon) -%}
{%- set trailing_windows = [1, 3, 6] -%}
{%- set longest_window = ([horizon] + trailing_windows) | max -%}
{%- set recompute_from = rfm_incremental_bounds().recompute_from -%}
{%- if recompute_from -%}
    {%- set context_from = rfm_shift_period(recompute_from, -longest_window) -%}
{%- endif -%}
{%- set by_user = 'partition by ' ~ rfm_text_in_byte_order('user_id')
    ~ ' order by snapshot_period' -%}
{%- set lags = (trailing_windows + [horizon]) | unique | list -%}
{%- set sums = {'payments': 'lifetime_payments', 'revenue': 'lifetime_revenue'} %}

with

periods as (
    select
        period_start,
        is_period_closed
    from {{ ref('int_rfm_periods') }}
    {%- if recompute_from %}
    where period_start >= {{ rfm_date_literal(recompute_from) }}
    {%- endif %}
),

-- the one aggregation of the payments, which the history reads too
payments_per_user_period as (
    select
        user_id,
        period_start,
        payments,
        amount as revenue
    from {{ ref('int_payments_per_user_period') }}
    {%- if recompute_from %}
    where period_start >= {{ rfm_date_literal(recompute_from) }}
    {%- endif %}
),

{%- if recompute_from %}

-- the stored totals of the longest_window periods before recompute_from, one row per user
stored_state as (
    select
        user_id,
        max(
            case
                when snapshot_period = {{ rfm_date_literal(rfm_shift_period(recompute_from, -1)) }}
                    then tenure_periods
            end
        ) as tenure_before,
        {%- for j in range(1, longest_window + 1) %}
        {%- for name, column in sums.items() %}
        max(
            case
                when snapshot_period = {{ rfm_date_literal(rfm_shift_period(recompute_from, -j)) }}
                    then {{ column }}
            end
        ) as {{ name }}_before_{{ j }}{{ ',' if not (loop.last and j == longest_window) }}
        {%- endfor %}
        {%- endfor %}
    from {{ this }}
    where
        snapshot_period >= {{ rfm_date_literal(context_from) }}
        and snapshot_period < {{ rfm_date_literal(recompute_from) }}
    group by user_id
),
{%- endif %}

-- a user appears in every period from the one of their first clean payment onwards
user_grid_starts as (
    select
        user_id,
        min(grid_start) as grid_start
    from (
        select
            user_id,
            min(period_start) as grid_start
        from payments_per_user_period
        group by 1
        {%- if recompute_from %}
        union all
        select
            user_id,
            {{ rfm_date_literal(recompute_from) }} as grid_start
        from stored_state
        {%- endif %}
    ) as grid_starts
    group by 1
),

-- the rows this run writes, with the payments and revenue of their own period
activity as (
    select
        user_grid_starts.user_id,
        periods.period_start as snapshot_period,
        periods.is_period_closed,
        {%- if recompute_from %}
        stored_state.tenure_before,
        {%- for j in range(1, longest_window + 1) %}
        stored_state.payments_before_{{ j }},
        stored_state.revenue_before_{{ j }},
        {%- endfor %}
        {%- endif %}
        coalesce(payments_per_user_period.payments, 0) as period_payments,
        coalesce(payments_per_user_period.revenue, 0) as period_revenue
    from user_grid_starts
    inner join periods
        on user_grid_starts.grid_start <= periods.period_start
    -- joined in the byte order of the per-user windows: one sort of the grid serves both
    left join payments_per_user_period
        on
            {{ rfm_text_in_byte_order('user_grid_starts.user_id') }}
            = {{ rfm_text_in_byte_order('payments_per_user_period.user_id') }}
            and periods.period_start = payments_per_user_period.period_start
    {%- if recompute_from %}
    left join stored_state
        on user_grid_starts.user_id = stored_state.user_id
    {%- endif %}
),

lifetime as (
    select
        *,
        {%- for name, column in sums.items() %}
        {%- if recompute_from %}
        coalesce({{ name }}_before_1, 0)
        + sum(period_{{ name }}) over (
            {{ by_user }} rows between unbounded preceding and current row
        ) as {{ column }},
        {%- else %}
        sum(period_{{ name }}) over (
            {{ by_user }} rows between unbounded preceding and current row
        ) as {{ column }},
        {%- endif %}
        {%- endfor %}
        row_number() over ({{ by_user }}) as grid_position
    from activity
),

-- the lifetime totals k periods before each row: a row of this run, or a stored one
earlier as (
    select
        *,
        {%- for k in lags %}
        {%- for name, column in sums.items() %}
        coalesce(
            {%- if recompute_from %}
            case
                when grid_position > {{ k }} then lag({{ column }}, {{ k }}) over ({{ by_user }})
                {%- for i in range(1, k + 1) %}
                when grid_position = {{ i }} then {{ name }}_before_{{ k - i + 1 }}
                {%- endfor %}
            end,
            {%- else %}
            lag({{ column }}, {{ k }}) over ({{ by_user }}),
            {%- endif %}
            0
        ) as {{ name }}_{{ k }}_before,
        {%- endfor %}
        {%- endfor %}
        {%- if recompute_from %}
        coalesce(tenure_before, 0) + grid_position as running_tenure
        {%- else %}
        grid_position as running_tenure
        {%- endif %}
    from lifetime
),

windowed as (
    select
        *,
        {%- for periods in trailing_windows %}
        lifetime_payments - payments_{{ periods }}_before as payments_last_{{ periods }},
        lifetime_revenue - revenue_{{ periods }}_before as revenue_last_{{ periods }},
        {%- endfor %}
        lifetime_payments - payments_{{ horizon }}_before as payments_last_horizon,
        lifetime_revenue - revenue_{{ horizon }}_before as revenue_last_horizon
    from earlier
),

final as (
    select
        snapshot_period,
        user_id,
        is_period_closed,
        cast(running_tenure as {{ dbt.type_int() }}) as tenure_periods,
        cast(lifetime_payments as {{ dbt.type_bigint() }}) as lifetime_payments,
        cast(lifetime_revenue as {{ rfm_type('money') }}) as lifetime_revenue,
        {%- for periods in trailing_windows %}
        cast(payments_last_{{ periods }} as {{ dbt.type_bigint() }}) as payments_last_{{ periods }},
        cast(revenue_last_{{ periods }} as {{ rfm_type('money') }}) as revenue_last_{{ periods }},
        {%- endfor %}
        cast(payments_last_horizon as {{ dbt.type_bigint() }}) as payments_last_horizon,
        cast(revenue_last_horizon as {{ rfm_type('money') }}) as revenue_last_horizon,
        cast({{ horizon }} as {{ dbt.type_int() }}) as horizon_periods
    from windowed
)

select * from final
{{- rfm_stored_in_order_of('snapshot_period') }}
{%- endmacro %}
