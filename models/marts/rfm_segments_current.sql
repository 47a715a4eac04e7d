{#-
    The latest period of the history, one row per user: what reverse ETL syncs to the CRM.
    With var reverse_etl_role set, that role may select this table (and use its schema), and
    nothing else of the project. See docs/reverse_etl.md for the columns a diff-based sync
    should compare.
-#}
{%- set reverse_etl_role = rfm_reverse_etl_role() -%}
{{ config(
    grants=rfm_reverse_etl_grants(),
    post_hook=(
        ['grant usage on schema ' ~ adapter.quote(this.schema) ~ ' to ' ~ reverse_etl_role]
        if reverse_etl_role else []
    ),
) }}

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
