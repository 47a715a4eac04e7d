-- Retention of a segment cohort: of the users who were in segment S in period X, where are they
-- 0..N periods later? One row per (period, segment) with users and their share of the cohort.
-- vars: analysis_segment (default Champions), analysis_cohort_period (default: N periods before
-- the latest), analysis_periods_later (N, default 3).
{%- set segment = var('analysis_segment', 'Champions') %}
{%- set periods_later = var('analysis_periods_later', 3) | int %}
{%- set cohort_period = var('analysis_cohort_period', none) %}

with

history as (
    select * from {{ ref('rfm_segments_history') }}
),

cohort_start as (
    {%- if cohort_period %}
    select cast({{ rfm_sql_string(cohort_period) }} as date) as snapshot_period
    {%- else %}
    select
        cast(
            {{ dbt.dateadd(rfm_grain(), -periods_later, 'max(snapshot_period)') }} as date
        ) as snapshot_period
    from history
    {%- endif %}
),

cohort as (
    select history.user_id
    from history
    inner join cohort_start
        on history.snapshot_period = cohort_start.snapshot_period
    where history.rfm_segment = {{ rfm_sql_string(segment) }}
),

cohort_history as (
    select
        history.snapshot_period,
        history.rfm_segment,
        history.user_id
    from history
    inner join cohort
        on history.user_id = cohort.user_id
    inner join cohort_start
        on
            history.snapshot_period >= cohort_start.snapshot_period
            and history.snapshot_period <= cast(
                {{ dbt.dateadd(rfm_grain(), periods_later, 'cohort_start.snapshot_period') }}
                as date
            )
)

select
    snapshot_period,
    rfm_segment,
    count(*) as users,
    cast(count(*) as {{ rfm_type('double') }})
    / sum(count(*)) over (partition by snapshot_period) as share_of_cohort
from cohort_history
group by 1, 2
order by 1, 3 desc
