{#-
    Every raw event row that did not make it into the clean events, with the first reason of
    docs/identity.md that applies. Together with the clean events it reconciles to the raw table
    (test: assert_events_reconcile_with_raw).
-#}
{{ config(enabled=rfm_events()) }}

with

screened_events as (
    select * from {{ ref('stg_events__events') }}
),

rejected as (
    select
        event_id,
        occurred_at,
        event_name,
        user_id,
        anonymous_id,
        email,
        revenue,
        product_id,
        rejection_reason
    from screened_events
    where rejection_reason is not null
)

select * from rejected
