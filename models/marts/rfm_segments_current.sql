{#-
    The latest period of the history, one row per user: what reverse ETL syncs to the CRM.
-#}

with

history as (
    select * from {{ ref('rfm_segments_history') }}
),

latest_period as (
    select max(snapshot_period) as snapshot_period
    from history
),

current_segments as (
    select history.*
    from history
    inner join latest_period
        on history.snapshot_period = latest_period.snapshot_period
)

select * from current_segments
