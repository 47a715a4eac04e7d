{#-
    The computed traits of the seed computed_traits, one row per profile of customer_profiles,
    at the current snapshot: the events and payments before rfm_as_of, the windows ending at it
    (docs/identity.md, "Computed traits"). The SQL is generated from the seed at compile time
    (macros/traits/): snapshot_at (= rfm_as_of), then one column per trait, in the order of
    the trait names.
-#}
-- depends_on: {{ ref('computed_traits') }}, {{ ref('identity_event_names') }}
{%- set traits = rfm_computed_traits() %}

with

profiles as (
    select profile_id from {{ ref('customer_profiles') }}
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
        profile_id,
        {{ rfm_as_of() }} as cut_at
    from profiles
),

{{ rfm_trait_ctes(traits, ['profile_id']) }}

select * from traits
