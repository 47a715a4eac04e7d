-- The row rules of rfm_user_features (a view: no not-null constraints), checked in one pass;
-- each failing row says which rule it breaks first. The view inner-joins the history and
-- int_user_features: their grids must be the same rows.
-- `dbt test` checks every row of the view, labels included. `dbt build` checks the stored sums
-- in int_user_features that the view's columns come from: every period on a --full-refresh,
-- the recomputed ones (through the table's index) on a scheduled run
-- (macros/incremental/). A label is the difference of two stored lifetimes, filled when the
-- later row is closed, so it holds when the sums do (tests/python/test_features.py checks the
-- view's labels against the reference); reading them through the view costs a join of the whole
-- table with itself (the slowest node of a full build, and a whole-table scan even for a range
-- of periods: PostgreSQL carries an equality on snapshot_period across a join, not a range).
{%- set check_the_view = not execute or flags.WHICH != 'build' %}
{%- set tested = rfm_tested_periods_filter('snapshot_period', ref('rfm_segments_history')) %}

with

history_rows as (
    select
        snapshot_period,
        user_id
    from {{ ref('rfm_segments_history') }}
    where true{{ tested }}
),

feature_rows as (
    select
        snapshot_period,
        user_id
    from {{ ref('int_user_features') }}
    where true{{ tested }}
),

grid_mismatches as (
    select
        coalesce(history_rows.snapshot_period, feature_rows.snapshot_period) as snapshot_period,
        coalesce(history_rows.user_id, feature_rows.user_id) as user_id,
        case
            when feature_rows.user_id is null then 'a history row has no int_user_features row'
            else 'an int_user_features row has no history row'
        end as broken_rule
    from history_rows
    full outer join feature_rows
        on
            history_rows.snapshot_period = feature_rows.snapshot_period
            and history_rows.user_id = feature_rows.user_id
    where history_rows.user_id is null or feature_rows.user_id is null
),

{%- if check_the_view %}

checked_rows as (
    select * from {{ ref('rfm_user_features') }}
),
{%- else %}

checked_rows as (
    select * from {{ ref('int_user_features') }}
    where true{{ tested }}
),
{%- endif %}

checked as (
    select
        snapshot_period,
        user_id,
        case
            {%- if check_the_view %}
            when
                snapshot_period is null or user_id is null or snapshot_at is null
                or is_period_closed is null or is_label_complete is null
                then 'a key or flag column is null'
            when is_label_complete and (next_payments is null or next_revenue is null)
                then 'a complete label is null'
            when not is_label_complete and (next_payments is not null or next_revenue is not null)
                then 'an incomplete label is filled'
            {%- else %}
            when snapshot_period is null or user_id is null or is_period_closed is null
                then 'a key or flag column is null'
            when lifetime_payments is null or lifetime_revenue is null
                then 'a lifetime sum is null'
            {%- endif %}
            when lifetime_payments < 1 then 'lifetime_payments < 1'
            when not (
                    payments_last_1 <= payments_last_3
                    and payments_last_3 <= payments_last_6
                    and payments_last_6 <= lifetime_payments
                ) then 'trailing sums do not nest'
            when payments_last_horizon > lifetime_payments
                then 'payments_last_horizon > lifetime_payments'
            when tenure_periods < 1 then 'tenure_periods < 1'
        end as broken_rule
    from checked_rows
)

select
    snapshot_period,
    user_id,
    broken_rule
from checked
where broken_rule is not null
union all
select
    snapshot_period,
    user_id,
    broken_rule
from grid_mismatches
