{#-
    The clean events that belong to a profile of the identity graph, with its profile_id
    (docs/identity.md, "Computed traits"): the profile of the event's user_id, else of its
    e-mail, else of its anonymous_id. An event whose identifiers belong to no profile (a shared
    e-mail or kiosk device, an ambiguous laptop) counts for nobody and is left out.
    Stored: both trait models read it, and it joins the events with the map three times.

    Incremental (a table on Spark; rfm_profile_events_plan): a scheduled run selects again only
    the events the staging screened again since the last run (stg_events__events__rescreens)
    and the events of the identifiers whose profile changed since then (rfm_reassigned_events:
    a merge, a split, a new identifier); the pre-hook deletes their stored rows first. The
    post-hook queues the profiles whose events changed (<this>__changed_profiles: the rows
    deleted and those written, selected_at, compared; what profile_traits recomputes) and
    keeps the copy of identity_map and the staging's last run that the next run compares
    with. Every other event keeps its profile: it follows from its identifiers'.
-#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook=[rfm_lock_model(), rfm_session_tuning(), "{{ rfm_delete_reassigned_events() }}"],
    post_hook=["{{ rfm_store_profile_events_state() }}", rfm_analyze()],
) }}
{%- set plan = rfm_profile_events_plan() %}

with

events as (
    select * from {{ ref('stg_events__events') }}
    where rejection_reason is null
    {%- if not plan.every_event %}
        and {{ rfm_selected_again(plan) }}
    {%- endif %}
),

identity_map as (
    {{ rfm_profile_identity_map() }}
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
        events.product_id,
        {{ rfm_run_started_at() }} as selected_at
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
