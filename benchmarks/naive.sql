-- The naive design: the history query of the dbt Labs article ("Building a historical user
-- segmentation model with dbt"), with the ranking fixed to run within each period and with the
-- cleaning, snapshot and segment rules of docs/contract.md, so that its segments can be compared
-- with ours.
--
-- Its cost driver is `payments_with_periods`: every clean payment is joined to every period whose
-- snapshot comes after it, so the rows aggregated grow with payments x periods, and every run
-- recomputes all of history. (We give it `count(*)` where the article has
-- `count(distinct payment_id)`: equal after the de-duplication, and cheaper.)
--
-- One statement, reading only the raw tables. Parameters are psql variables:
--   psql -v rfm_as_of='2025-01-01 00:00:00' -v raw_schema=raw -f benchmarks/naive.sql
-- (`rfm bench` substitutes them and runs `create table ... as` this statement.)

with

raw_payments as (
    select
        trim(payment_id) as payment_id,
        trim(user_id) as user_id,
        payment_date,
        payment_amount
    from :"raw_schema".fact_payments
),

-- rules 1-6 of docs/contract.md (null or blank ids, missing date or amount, amount <= 0, after
-- rfm_as_of)
valid_payments as (
    select *
    from raw_payments
    where
        payment_id <> ''
        and user_id <> ''
        and payment_date is not null
        and payment_amount > 0
        and payment_date < cast(:'rfm_as_of' as timestamp)
),

-- rule 7: one copy per payment_id (earliest date, then smallest amount, then smallest user_id)
clean_payments as (
    select
        user_id,
        payment_date,
        payment_amount
    from (
        select
            *,
            row_number() over (
                partition by payment_id
                order by payment_date, payment_amount, user_id collate "C"
            ) as copy_rank
        from valid_payments
    ) as ranked
    where copy_rank = 1
),

months as (
    select distinct cast(date_trunc('month', date_day) as date) as period_start
    from :"raw_schema".dim_calendar
    where date_day is not null
),

periods as (
    select
        period_start,
        least(
            cast(period_start + interval '1 month' as timestamp),
            cast(:'rfm_as_of' as timestamp)
        ) as snapshot_at,
        period_start + interval '1 month' <= cast(:'rfm_as_of' as timestamp) as is_period_closed
    from months
    where period_start < cast(:'rfm_as_of' as timestamp)
),

-- the calendar-to-payments join: each payment once for every period snapshotted after it
payments_with_periods as (
    select
        periods.period_start,
        periods.snapshot_at,
        periods.is_period_closed,
        clean_payments.user_id,
        clean_payments.payment_date,
        clean_payments.payment_amount
    from periods
    inner join clean_payments
        on clean_payments.payment_date < periods.snapshot_at
),

rfm_values as (
    select
        period_start,
        snapshot_at,
        is_period_closed,
        user_id,
        min(payment_date) as first_payment_at,
        max(payment_date) as last_payment_at,
        cast(snapshot_at as date) - cast(max(payment_date) as date) as recency_days,
        count(*) as frequency,
        sum(payment_amount) as monetary
    from payments_with_periods
    group by period_start, snapshot_at, is_period_closed, user_id
),

rfm_percentiles as (
    select
        *,
        percent_rank() over (
            partition by period_start order by recency_days desc
        ) as recency_percentile,
        percent_rank() over (
            partition by period_start order by frequency asc
        ) as frequency_percentile,
        percent_rank() over (
            partition by period_start order by monetary asc
        ) as monetary_percentile
    from rfm_values
),

rfm_scores as (
    select
        *,
        case
            when recency_percentile >= 0.8 then 5
            when recency_percentile >= 0.6 then 4
            when recency_percentile >= 0.4 then 3
            when recency_percentile >= 0.2 then 2
            else 1
        end as recency_score,
        case
            when frequency_percentile >= 0.8 then 5
            when frequency_percentile >= 0.6 then 4
            when frequency_percentile >= 0.4 then 3
            when frequency_percentile >= 0.2 then 2
            else 1
        end as frequency_score,
        case
            when monetary_percentile >= 0.8 then 5
            when monetary_percentile >= 0.6 then 4
            when monetary_percentile >= 0.4 then 3
            when monetary_percentile >= 0.2 then 2
            else 1
        end as monetary_score
    from rfm_percentiles
),

-- the article's CASE, which is the segment table of docs/contract.md
rfm_segments as (
    select
        *,
        case
            when recency_score <= 2 and frequency_score <= 2 then 'Hibernating'
            when recency_score <= 2 and frequency_score <= 4 then 'At Risk'
            when recency_score <= 2 and frequency_score <= 5 then 'Cannot Lose Them'
            when recency_score <= 3 and frequency_score <= 2 then 'About to Sleep'
            when recency_score <= 3 and frequency_score <= 3 then 'Need Attention'
            when recency_score <= 4 and frequency_score <= 1 then 'Promising'
            when recency_score <= 4 and frequency_score <= 3 then 'Potential Loyalists'
            when recency_score <= 4 and frequency_score <= 5 then 'Loyal Customers'
            when recency_score <= 5 and frequency_score <= 1 then 'New Customers'
            when recency_score <= 5 and frequency_score <= 3 then 'Potential Loyalists'
            else 'Champions'
        end as rfm_segment
    from rfm_scores
),

-- the two history columns of docs/contract.md, so that the naive table carries the same columns
-- as ours
with_previous_segment as (
    select
        *,
        lag(rfm_segment) over (partition by user_id order by period_start) as previous_segment
    from rfm_segments
),

run_starts as (
    select
        *,
        case
            when previous_segment is null or previous_segment <> rfm_segment then period_start
        end as run_start
    from with_previous_segment
)

select
    period_start as snapshot_period,
    snapshot_at,
    is_period_closed,
    user_id,
    first_payment_at,
    last_payment_at,
    recency_days,
    frequency,
    monetary,
    recency_percentile,
    frequency_percentile,
    monetary_percentile,
    recency_score,
    frequency_score,
    monetary_score,
    rfm_segment,
    previous_segment,
    max(run_start) over (
        partition by user_id
        order by period_start
        rows between unbounded preceding and current row
    ) as segment_since
from run_starts
