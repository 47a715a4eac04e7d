{#-
    The computed traits of the seed computed_traits, one row per profile of customer_profiles,
    at the current snapshot: the events and payments before rfm_as_of, the windows ending at it
    (docs/identity.md, "Computed traits"). The SQL is generated from the seed at compile time
    (macros/traits/): snapshot_at (= rfm_as_of), then one column per trait, in the order of
    the trait names.

    Incremental (a table on Spark; rfm_profile_traits_plan): a scheduled run recomputes only
    the profiles whose events or payments changed since its last run, or whose windows an
    event crossed as rfm_as_of moved (rfm_recomputed_profiles); the pre-hook deletes their
    rows and moves every other row's snapshot_at to this run's. A change of the seed
    recomputes every profile (its columns follow: on_schema_change sync_all_columns).
-#}
-- depends_on: {{ ref('computed_traits') }}, {{ ref('identity_event_names') }}
-- depends_on: {{ ref('stg_billing__payments') }}
{%- set traits = rfm_computed_traits() %}
{{ config(
    enabled=rfm_events(),
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook=[rfm_lock_model(), "{{ rfm_delete_recomputed_profiles(rfm_computed_traits()) }}"],
    post_hook=["{{ rfm_store_profile_traits_state() }}", rfm_analyze()],
) }}
{%- set plan = rfm_profile_traits_plan(traits) %}

with

profiles as (
    select profile_id from {{ ref('customer_profiles') }}
    {{ rfm_recomputed_profiles_only(plan) }}
),

profile_events as (
    select * from {{ ref('int_profile_events') }}
    {{ rfm_recomputed_profiles_only(plan) }}
),

-- noqa: disable=ST03
-- read by the traits that include payments (none may)
profile_payments as (
    select * from {{ ref('int_profile_payments') }}
    {{ rfm_recomputed_profiles_only(plan) }}
),
-- noqa: enable=ST03

subjects as (
    select
        profile_id,
        {{ rfm_as_of() }} as cut_at
    from profiles
),

{{ rfm_trait_ctes(traits, ['profile_id']) }}

select * from traits
