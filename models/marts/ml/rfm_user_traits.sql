{#-
    The computed traits of the seed computed_traits point in time, per (snapshot_period,
    user_id) of rfm_user_features: each row counts only the events and payments of the user's
    profile before the row's snapshot_at, and the windows end at snapshot_at (docs/identity.md,
    "Computed traits"). Only the users with a profile have rows: without event sources the
    table is empty instead of a copy of the history's grid rewritten on every run. The profile is the one of
    today's identity graph: a merge that arrived later applies to the past rows too.
    Incremental (a table on Spark; rfm_user_traits_plan): a row reads its profile's events and
    payments up to its own snapshot_at, so a scheduled run recomputes the recent periods (as
    the history does, and from the first day the payments' staging screened again) and, in
    earlier periods, only the rows of the profiles int_profile_events queued, from the first
    instant their events changed (every row of a profile that gained or lost an identifier).
    A change of the seed recomputes every row (docs/identity.md, "Runs").
-#}
-- depends_on: {{ ref('computed_traits') }}, {{ ref('identity_event_names') }}
-- depends_on: {{ ref('stg_billing__payments') }}
{%- set traits = rfm_computed_traits() %}
{{ config(
    enabled=rfm_events(),
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook=[rfm_lock_model(), "{{ rfm_delete_recomputed_user_rows(rfm_computed_traits()) }}"],
    post_hook=["{{ rfm_store_user_traits_state() }}", rfm_analyze()],
    indexes=rfm_unique_index(['snapshot_period', 'user_id']),
) }}
{%- set plan = rfm_user_traits_plan(traits) %}

with

-- the grid of rfm_user_features (the history's rows), read from the history: the traits are
-- then no descendant of int_user_features, whose scenarios build without the event sources
history as (
    select
        history.snapshot_period,
        history.user_id,
        history.snapshot_at
    from {{ ref('rfm_segments_history') }} as history
    {{- rfm_recomputed_user_rows_only(plan, 'history') }}
),

user_profiles as (
    {{ rfm_user_profiles() }}
),

profile_events as (
    select * from {{ ref('int_profile_events') }}
),

-- noqa: disable=ST03
-- read by the traits that include payments (none may)
profile_payments as (
    select * from {{ ref('int_profile_payments') }}
),
-- noqa: enable=ST03

subjects as (
    select
        history.snapshot_period,
        history.user_id,
        user_profiles.profile_id,
        history.snapshot_at as cut_at
    from history
    inner join user_profiles on history.user_id = user_profiles.user_id
),

{{ rfm_trait_ctes(traits, ['snapshot_period', 'user_id']) }}

select * from traits
