{#-
    The identifier sets the events and identify calls were seen with: one row per distinct
    (user_id, anonymous_id, email) of the clean events (int_identity_event_observations, kept
    up to date from the events screened again) and the identifies, with the first and last
    instant it was seen. Every link of the identity graph comes from one of these rows.
-#}
{{ config(enabled=rfm_events(), materialized='table', post_hook=[rfm_analyze()]) }}

with

event_observations as (
    select
        user_id,
        anonymous_id,
        email,
        first_seen_at,
        last_seen_at
    from {{ ref('int_identity_event_observations') }}
),

identifies as (
    select
        user_id,
        anonymous_id,
        email,
        occurred_at as first_seen_at,
        occurred_at as last_seen_at
    from {{ ref('stg_events__identifies') }}
),

observed as (
    select * from event_observations
    union all
    select * from identifies
),

observations as (
    select
        user_id,
        anonymous_id,
        email,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from observed
    group by user_id, anonymous_id, email
)

select * from observations
