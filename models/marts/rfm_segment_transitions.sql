{#-
    Per period that has a previous period: how many users moved from each segment to each
    segment (from_segment null = users new in the period). Incremental like the history: a
    normal run recomputes the last stored period and rfm_lookback_periods before it.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy=rfm_incremental_strategy(),
    unique_key='snapshot_period',
    partition_by=rfm_partition_by('snapshot_period'),
    on_schema_change='fail',
    pre_hook=[rfm_lock_model()],
    post_hook=["{{ rfm_store_customer_keys() }}"],
) }}

{{ rfm_depends_on_customer_keys() }}

{%- set recompute_from = rfm_incremental_bounds().recompute_from %}

with

history as (
    select * from {{ ref('rfm_segments_history') }}
),

-- from the table itself, not the CTE: a CTE read twice is materialized whole by PostgreSQL
first_period as (
    select min(snapshot_period) as snapshot_period
    from {{ ref('rfm_segments_history') }}
),

recomputed_history as (
    select
        history.snapshot_period,
        history.previous_segment,
        history.rfm_segment
    from history
    inner join first_period
        on history.snapshot_period > first_period.snapshot_period
    {%- if recompute_from %}
    where history.snapshot_period >= {{ rfm_date_literal(recompute_from) }}
    {%- endif %}
),

transitions as (
    select
        snapshot_period,
        previous_segment as from_segment,
        rfm_segment as to_segment,
        count(*) as users
    from recomputed_history
    group by 1, 2, 3
)

select * from transitions
