{#-
    The clean events that belong to a profile of the identity graph, with its profile_id
    (docs/identity.md, "Computed traits"): the profile of the event's user_id, else of its
    e-mail, else of its anonymous_id. An event whose identifiers belong to no profile (a shared
    e-mail or kiosk device, an ambiguous laptop) counts for nobody and is left out.
    Stored: both trait models read it, and it joins the events with the map three times.
-#}
{{ config(materialized='table', post_hook=[rfm_analyze()]) }}

with

events as (
    select * from {{ ref('stg_events__events') }}
    where rejection_reason is null
),

identity_map as (
    select * from {{ ref('identity_map') }}
    where profile_id is not null
),

events_with_profiles as (
    select
        coalesce(
            user_profiles.profile_id, email_profiles.profile_id, anonymous_profiles.profile_id
        ) as profile_id,
        events.event_id,
        events.occurred_at,
        events.event_name,
        events.revenue,
        events.product_id
    from events
    left join identity_map as user_profiles
        on
            user_profiles.identifier_type = 'user_id'
            and events.user_id = user_profiles.identifier_value
    left join identity_map as email_profiles
        on
            email_profiles.identifier_type = 'email'
            and events.email = email_profiles.identifier_value
    left join identity_map as anonymous_profiles
        on
            anonymous_profiles.identifier_type = 'anonymous_id'
            and events.anonymous_id = anonymous_profiles.identifier_value
)

select * from events_with_profiles
where profile_id is not null
