-- The row rules of rfm_segments_history, checked in one pass; each failing row says which rule
-- it breaks first (run with --store-failures to keep them). A scheduled build checks the
-- periods it recomputed (macros/incremental/rfm_tested_periods_start.sql).

with

history as (
    select * from {{ ref('rfm_segments_history') }}
    where true{{- rfm_tested_periods_filter('snapshot_period', ref('rfm_segments_history')) }}
),

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

checked as (
    select
        history.snapshot_period,
        history.user_id,
        case
            when history.recency_score not between 1 and 5 then 'recency_score not in 1..5'
            when history.frequency_score not between 1 and 5 then 'frequency_score not in 1..5'
            when history.monetary_score not between 1 and 5 then 'monetary_score not in 1..5'
            when history.recency_percentile not between 0 and 1
                then 'recency_percentile not in [0, 1]'
            when history.frequency_percentile not between 0 and 1
                then 'frequency_percentile not in [0, 1]'
            when history.monetary_percentile not between 0 and 1
                then 'monetary_percentile not in [0, 1]'
            when history.recency_days < 0 then 'recency_days < 0'
            when history.frequency < 0 then 'frequency < 0'
            when history.monetary < 0 then 'monetary < 0'
            when history.first_payment_at > history.last_payment_at
                then 'first_payment_at > last_payment_at'
            when history.last_payment_at >= history.snapshot_at
                then 'last_payment_at >= snapshot_at'
            when history.segment_since > history.snapshot_period
                then 'segment_since after snapshot_period'
            when
                history.previous_segment is null
                and history.segment_since <> history.snapshot_period
                then 'a first period must start its segment run'
            when history.previous_segment = history.rfm_segment
                and history.segment_since = history.snapshot_period
                then 'an unchanged segment cannot start a new run'
            when segment_map.rfm_segment is null then 'rfm_segment not in the rfm_segment_map seed'
        end as broken_rule
    from history
    left join segment_map
        on
            history.recency_score = segment_map.recency_score
            and history.frequency_score = segment_map.frequency_score
            and history.rfm_segment = segment_map.rfm_segment
)

select * from checked
where broken_rule is not null
