-- rfm_segment_summary against the history: per period, the users and the monetary total add up
-- to the history's, and the shares sum to 1. (A scheduled build checks the recomputed periods.)

with

history_per_period as (
    select
        snapshot_period,
        count(*) as users,
        sum(monetary) as monetary_total
    from {{ ref('rfm_segments_history') }}
    where true{{- rfm_tested_periods_filter('snapshot_period', ref('rfm_segments_history')) }}
    group by 1
),

summary_per_period as (
    select
        snapshot_period,
        sum(users) as users,
        sum(monetary_total) as monetary_total,
        sum(share_of_users) as share_of_users
    from {{ ref('rfm_segment_summary') }}
    group by 1
)

select
    history_per_period.*,
    summary_per_period.users as summary_users,
    summary_per_period.monetary_total as summary_monetary_total,
    summary_per_period.share_of_users
from history_per_period
left join summary_per_period
    on history_per_period.snapshot_period = summary_per_period.snapshot_period
where
    summary_per_period.snapshot_period is null
    or history_per_period.users <> summary_per_period.users
    or history_per_period.monetary_total <> summary_per_period.monetary_total
    or abs(summary_per_period.share_of_users - 1) > 1e-9
