-- Every (recency_score, frequency_score) pair in 1..5 x 1..5 maps to exactly one segment, and the
-- map holds no other pair. Returns the offending pairs.

with

scores as (
    {{ rfm_score_values() }}
),

expected_pairs as (
    select
        recency.score as recency_score,
        frequency.score as frequency_score
    from scores as recency
    cross join scores as frequency
),

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

mapped_pairs as (
    select
        expected_pairs.recency_score,
        expected_pairs.frequency_score,
        count(segment_map.rfm_segment) as segments
    from expected_pairs
    left join segment_map
        on
            expected_pairs.recency_score = segment_map.recency_score
            and expected_pairs.frequency_score = segment_map.frequency_score
    group by 1, 2
),

unexpected_pairs as (
    select
        segment_map.recency_score,
        segment_map.frequency_score,
        -1 as segments
    from segment_map
    left join expected_pairs
        on
            segment_map.recency_score = expected_pairs.recency_score
            and segment_map.frequency_score = expected_pairs.frequency_score
    where expected_pairs.recency_score is null
)

select * from mapped_pairs
where segments <> 1
union all
select * from unexpected_pairs
