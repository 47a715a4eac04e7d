-- count(raw) = count(clean) + count(rejected) for the optional fact_events (docs/identity.md):
-- nothing is lost or doubled. No rows to compare when the source does not exist.
{{ config(enabled=rfm_events()) }}
{%- set has_events = rfm_relation_exists(source('events', 'fact_events')) %}

with

raw_events as (
    {%- if has_events %}
    select count(*) as row_count from {{ source('events', 'fact_events') }}
    {%- else %}
    select 0 as row_count
    {%- endif %}
),

clean_events as (
    select count(*) as row_count
    from {{ ref('stg_events__events') }}
    where rejection_reason is null
),

rejected_events as (
    select count(*) as row_count from {{ ref('events_rejected') }}
)

select
    raw_events.row_count as raw_rows,
    clean_events.row_count as clean_rows,
    rejected_events.row_count as rejected_rows
from raw_events
cross join clean_events
cross join rejected_events
where raw_events.row_count <> clean_events.row_count + rejected_events.row_count
