{#-
    Per period and segment: users, their share of the period's users, the segment's total and
    average monetary, and its average recency and frequency. Incremental like the history.
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
    {%- if recompute_from %}
    where snapshot_period >= {{ rfm_date_literal(recompute_from) }}
    {%- endif %}
),

per_segment as (
    select
        snapshot_period,
        rfm_segment,
        count(*) as users,
        cast(sum(monetary) as {{ rfm_type('money') }}) as monetary_total,
        avg(cast(recency_days as {{ rfm_type('double') }})) as avg_recency_days,
        avg(cast(frequency as {{ rfm_type('double') }})) as avg_frequency,
        cast(avg(monetary) as {{ rfm_type('money') }}) as avg_monetary
    from history
    group by 1, 2
),

summary as (
    select
        snapshot_period,
        rfm_segment,
        users,
        cast(users as {{ rfm_type('double') }})
        / sum(users) over (partition by snapshot_period) as share_of_users,
        monetary_total,
        avg_recency_days,
        avg_frequency,
        avg_monetary
    from per_segment
)

select * from summary
