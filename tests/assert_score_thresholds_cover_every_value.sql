-- The bins of the seed rfm_score_thresholds: per metric, every value has exactly one score
-- (the bins, ordered by lower bound, start open, end open and each starts where the one before
-- it ends: no gap, no overlap), and each score 1-5 has exactly one bin. Returns the offending
-- (metric, score) with the problem; checked on every build, whatever the scoring methods.
{%- set text = rfm_type('text') %}

with

bins as (
    select * from {{ ref('rfm_score_thresholds') }}
),

scores as (
    {{ rfm_score_values() }}
),

metrics as (
    select 'recency' as metric
    union all
    select 'frequency'
    union all
    select 'monetary'
),

bins_per_score as (
    select
        metrics.metric,
        scores.score,
        count(bins.score) as bins
    from metrics
    cross join scores
    left join bins
        on metrics.metric = bins.metric and scores.score = bins.score
    group by 1, 2
),

-- nulls ordered first on every engine: an open lower bound starts the metric's values
ordered_bins as (
    select
        metric,
        score,
        lower_bound,
        upper_bound,
        row_number() over (
            partition by metric
            order by case when lower_bound is null then 0 else 1 end, lower_bound, score
        ) as bin_position,
        count(*) over (partition by metric) as metric_bins
    from bins
),

with_previous as (
    select
        ordered_bins.*,
        previous_bins.upper_bound as previous_upper_bound,
        previous_bins.score as previous_score
    from ordered_bins
    left join ordered_bins as previous_bins
        on
            ordered_bins.metric = previous_bins.metric
            and ordered_bins.bin_position = previous_bins.bin_position + 1
),

problems as (
    select
        metric,
        score,
        case
            when bins = 0 then 'no bin for this score'
            else 'more than one bin for this score'
        end as problem
    from bins_per_score
    where bins <> 1
    union all
    select
        metric,
        score,
        case
            when lower_bound >= upper_bound then 'an empty bin: lower_bound >= upper_bound'
            when bin_position = 1 and lower_bound is not null
                then 'gap: no bin for the values below ' || cast(lower_bound as {{ text }})
            when bin_position > 1 and (lower_bound is null or previous_upper_bound is null)
                then 'overlap: two bins open on one side'
            when bin_position > 1 and previous_upper_bound < lower_bound
                then
                    'gap: no bin between ' || cast(previous_upper_bound as {{ text }})
                    || ' and ' || cast(lower_bound as {{ text }})
            when bin_position > 1 and previous_upper_bound > lower_bound
                then 'overlap with the bin of score ' || cast(previous_score as {{ text }})
            when bin_position = metric_bins and upper_bound is not null
                then 'gap: no bin for the values from ' || cast(upper_bound as {{ text }})
        end as problem
    from with_previous
)

select * from problems
where problem is not null
