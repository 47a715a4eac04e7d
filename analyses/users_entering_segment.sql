-- Which users entered segment S this period (e.g. the At Risk list for a win-back campaign):
-- users in S in the period whose previous segment was another one (or who are new).
-- vars: analysis_segment (default At Risk), analysis_period (default: the latest period).
{%- set segment = var('analysis_segment', 'At Risk') %}
{%- set period = var('analysis_period', none) %}

with

history as (
    select * from {{ ref('rfm_segments_history') }}
),

chosen_period as (
    {%- if period %}
    select cast({{ rfm_sql_string(period) }} as date) as snapshot_period
    {%- else %}
    select max(snapshot_period) as snapshot_period
    from history
    {%- endif %}
)

select
    history.user_id,
    history.previous_segment,
    history.rfm_segment,
    history.recency_days,
    history.frequency,
    history.monetary,
    history.last_payment_at
from history
inner join chosen_period
    on history.snapshot_period = chosen_period.snapshot_period
where
    history.rfm_segment = {{ rfm_sql_string(segment) }}
    and history.segment_since = history.snapshot_period
order by history.monetary desc, history.user_id asc
