{#-
    The identifier sets the events and identify calls were seen with: one row per distinct
    (user_id, anonymous_id, email) of the clean events and the identifies, with the first and
    last instant it was seen. Every link of the identity graph comes from one of these rows.
-#}
{{ config(enabled=rfm_events(), materialized='table', post_hook=[rfm_analyze()]) }}

with

clean_events as (
    select
        occurred_at,
        user_id,
        anonymous_id,
        email
    from {{ ref('stg_events__events') }}
    where rejection_reason is null
),

identifies as (
    select
        occurred_at,
        user_id,
        anonymous_id,
        email
    from {{ ref('stg_events__identifies') }}
),

observed as (
    select * from clean_events
    union all
    select * from identifies
),

observations as (
    select
        user_id,
        anonymous_id,
        email,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from observed
    group by user_id, anonymous_id, email
)

select * from observations
