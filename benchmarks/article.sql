-- The history query of the dbt Labs article "Building a historical user segmentation model with
-- dbt", as written: what a user would otherwise copy. Two changes only, both needed for it to
-- run here and mean what the article says:
-- - `percent_rank()` is partitioned by month (the article ranks across all months at once);
-- - `now()` is the benchmark's rfm_as_of, so that every peer takes the same snapshot.
-- No cleaning, the article's snapshot (payments up to the month's first instant), its
-- `count(distinct payment_id)` and its CASE segments: its segments are not comparable with
-- ours, only its cost is.
--
-- One statement, reading only the raw tables. Parameters are psql variables:
--   psql -v rfm_as_of='2025-01-01 00:00:00' -v raw_schema=raw -f benchmarks/article.sql
-- (`rfm bench` substitutes them and runs `create table ... as` this statement.)

with payments as (
    select *
    from :"raw_schema".fact_payments
),

months as (
    select cast(:'rfm_as_of' as timestamp) as date_month
    union all
    select distinct date_month as date_month
    from :"raw_schema".dim_calendar
),

payments_with_months as (
    select
        user_id,
        date_month,
        payment_date,
        payment_id,
        payment_amount
    from months
    inner join payments on payment_date <= date_month
),

rfm_values as (
    select
        user_id,
        date_month,
        max(payment_date) as max_payment_date,
        date_month - max(payment_date) as recency,
        count(distinct payment_id) as frequency,
        sum(payment_amount) as monetary
    from payments_with_months
    group by user_id, date_month
),

rfm_percentiles as (
    select
        user_id,
        date_month,
        recency,
        frequency,
        monetary,
        percent_rank() over (partition by date_month order by recency desc) as recency_percentile,
        percent_rank() over (partition by date_month order by frequency asc) as frequency_percentile,
        percent_rank() over (partition by date_month order by monetary asc) as monetary_percentile
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

rfm_segment as (
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
)

select *
from rfm_segment
