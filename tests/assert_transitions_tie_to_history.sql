-- rfm_segment_transitions against the history: per period, the moves sum to the period's users,
-- and the moves out of each segment sum to that segment's users in the previous period (users
-- never leave the history, so every user of a period is in the next one). A scheduled build
-- checks the periods it recomputed.

with

history as (
    select * from {{ ref('rfm_segments_history') }}
    where true{{- rfm_tested_periods_filter('snapshot_period', ref('rfm_segments_history')) }}
),

transitions as (
    select * from {{ ref('rfm_segment_transitions') }}
    where true{{- rfm_tested_periods_filter('snapshot_period', ref('rfm_segments_history')) }}
),

-- one pass over the history (a CTE read twice is materialized whole by PostgreSQL)
users_per_previous_segment_or_new as (
    select
        snapshot_period,
        previous_segment,
        count(*) as users
    from history
    group by 1, 2
),

users_per_period as (
    select
        snapshot_period,
        sum(users) as users
    from users_per_previous_segment_or_new
    group by 1
),

moves_per_period as (
    select
        snapshot_period,
        sum(users) as users
    from transitions
    group by 1
),

period_check as (
    select
        users_per_period.snapshot_period,
        cast(null as {{ rfm_type('text') }}) as from_segment,
        users_per_period.users as expected_users,
        coalesce(moves_per_period.users, 0) as transition_users
    from users_per_period
    left join moves_per_period
        on users_per_period.snapshot_period = moves_per_period.snapshot_period
    where
        users_per_period.snapshot_period
        > (select min(h.snapshot_period) from {{ ref('rfm_segments_history') }} as h)
),

moves_out_of_segment as (
    select
        snapshot_period,
        from_segment,
        sum(users) as users
    from transitions
    where from_segment is not null
    group by 1, 2
),

users_per_previous_segment as (
    select
        snapshot_period,
        previous_segment,
        users
    from users_per_previous_segment_or_new
    where previous_segment is not null
),

segment_check as (
    select
        users_per_previous_segment.snapshot_period,
        users_per_previous_segment.previous_segment as from_segment,
        users_per_previous_segment.users as expected_users,
        coalesce(moves_out_of_segment.users, 0) as transition_users
    from users_per_previous_segment
    left join moves_out_of_segment
        on
            users_per_previous_segment.snapshot_period = moves_out_of_segment.snapshot_period
            and users_per_previous_segment.previous_segment = moves_out_of_segment.from_segment
)

select * from period_check
where expected_users <> transition_users
union all
select * from segment_check
where expected_users <> transition_users
