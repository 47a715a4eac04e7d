{#-
    The clean events that belong to a profile of the identity graph, with its profile_id
    (docs/identity.md, "Computed traits"): the profile of the event's user_id, else of its
    e-mail, else of its anonymous_id (rfm_events_with_profiles). An event whose identifiers
    belong to no profile (a shared e-mail or kiosk device, an ambiguous laptop) counts for
    nobody and is left out. Stored: both trait models read it, and it joins the events with
    the map three times.

    Incremental (a table on Spark; rfm_profile_events_plan): a scheduled run maps again only
    the events the staging screened again since the last run (stg_events__events__rescreens)
    and the events of the identifiers whose profile changed since then (a merge, a split, a
    new identifier). The pre-hook (rfm_delete_reassigned_events) maps them anew, compares them
    with their stored rows, deletes the stored rows that changed or are gone, and queues the
    profiles whose events changed for profile_traits; the run inserts the rows that are new
    or changed (the working table <this>__fresh). Every other event keeps
    its profile: it follows from its identifiers'.
-#}
{{ config(
    enabled=rfm_events(),
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook=[rfm_lock_model(), rfm_session_tuning(), "{{ rfm_delete_reassigned_events() }}"],
    post_hook=["{{ rfm_store_profile_events_state() }}", rfm_analyze()],
) }}
{%- set plan = rfm_profile_events_plan() %}
{%- if plan.every_event %}

{{ rfm_events_with_profiles() }}

{%- else %}

-- the events mapped again whose rows are new or changed (rfm_delete_reassigned_events)
select {{ rfm_profile_event_columns() }} from {{ rfm_relation_beside('fresh') }}

{%- endif %}
