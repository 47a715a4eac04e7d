{#-
    int_user_features as a fold over periods, like the history (macros/folds/): the rows of a
    period come from the rows of the period before it (stored in {{ this }}) and the period's
    payment aggregates (int_payments_per_user_period), joined by user_id. A trailing sum of k
    periods goes on from the previous period's: + this period's payments - those of the period
    k before, which leaves the window (read through the (period_start, user_id) index). Nothing
    sorts the user x period grid, and an incremental run is the tail of a full build.
-#}


{#- SQL: the int_user_features rows of one period (a python date). previous_period: the period
    whose stored rows carry the sums forward (none: no user existed before `period`). -#}
{% macro rfm_user_features_step(period, previous_period) -%}
    {%- set horizon = rfm_ltv_horizon_periods() -%}
    {%- set period = rfm_to_date(period) -%}
    {%- set previous_period = rfm_to_date(previous_period) -%}
    {#- the stored column of each trailing window; the horizon has its own column -#}
    {%- set stored_windows = [(1, 'last_1'), (3, 'last_3'), (6, 'last_6'), (horizon, 'last_horizon')] -%}
    {%- set leaving = stored_windows | map(attribute=0) | reject('equalto', 1) | unique | list %}
with

snapshot as (
    select
        period_start,
        is_period_closed
    from {{ ref('int_rfm_periods') }}
    where period_start = {{ rfm_date_literal(period) }}
),

payments_in_period as (
    {{ rfm_period_payments(period) }}
),

{%- for k in leaving %}

-- the payments of the period that leaves the window of {{ k }} periods
payments_leaving_{{ k }} as (
    {{ rfm_period_payments(rfm_shift_period(period, -k)) }}
),
{%- endfor %}

previous_rows as (
    {%- if previous_period is not none %}
    select
        user_id,
        tenure_periods,
        lifetime_payments,
        lifetime_revenue,
        {%- for k, window in stored_windows if k != 1 %}
        payments_{{ window }},
        revenue_{{ window }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ this }}
    where snapshot_period = {{ rfm_date_literal(previous_period) }}
    {%- else %}
    -- the first period of the history: no user existed before it
    select
        user_id,
        0 as tenure_periods,
        payments as lifetime_payments,
        amount as lifetime_revenue,
        {%- for k, window in stored_windows if k != 1 %}
        payments as payments_{{ window }},
        amount as revenue_{{ window }}{{ ',' if not loop.last }}
        {%- endfor %}
    from payments_in_period
    where 1 = 0
    {%- endif %}
),

users_to_date as (
    select
        coalesce(previous_rows.user_id, payments_in_period.user_id) as user_id,
        coalesce(previous_rows.tenure_periods, 0) + 1 as tenure_periods,
        {%- for name, column in [('payments', 'payments'), ('revenue', 'amount')] %}
        coalesce(previous_rows.lifetime_{{ name }}, 0)
        + coalesce(payments_in_period.{{ column }}, 0) as lifetime_{{ name }},
        {%- for k, window in stored_windows %}
        {%- if k == 1 %}
        coalesce(payments_in_period.{{ column }}, 0) as {{ name }}_{{ window }}
        {%- else %}
        coalesce(previous_rows.{{ name }}_{{ window }}, 0)
        + coalesce(payments_in_period.{{ column }}, 0)
        - coalesce(payments_leaving_{{ k }}.{{ column }}, 0) as {{ name }}_{{ window }}
        {%- endif %}{{ ',' if not (loop.last and name == 'revenue') }}
        {%- endfor %}
        {%- endfor %}
    from previous_rows
    full outer join payments_in_period
        on previous_rows.user_id = payments_in_period.user_id
    {%- for k in leaving %}
    left join payments_leaving_{{ k }}
        on coalesce(previous_rows.user_id, payments_in_period.user_id)
        = payments_leaving_{{ k }}.user_id
    {%- endfor %}
),

final as (
    select
        snapshot.period_start as snapshot_period,
        users_to_date.user_id,
        snapshot.is_period_closed,
        cast(users_to_date.tenure_periods as {{ dbt.type_int() }}) as tenure_periods,
        cast(users_to_date.lifetime_payments as {{ dbt.type_bigint() }}) as lifetime_payments,
        cast(users_to_date.lifetime_revenue as {{ rfm_type('money') }}) as lifetime_revenue,
        {%- for k, window in stored_windows %}
        cast(users_to_date.payments_{{ window }} as {{ dbt.type_bigint() }})
            as payments_{{ window }},
        cast(users_to_date.revenue_{{ window }} as {{ rfm_type('money') }})
            as revenue_{{ window }},
        {%- endfor %}
        cast({{ horizon }} as {{ dbt.type_int() }}) as horizon_periods
    from users_to_date
    cross join snapshot
)

select * from final
{%- endmacro %}
