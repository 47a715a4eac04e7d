{#- SQL: the clean events of stg_events__events (those matching `events_filter`, a predicate on
    its columns, if given) that belong to a profile, with it: the profile of the event's
    user_id, else of its e-mail, else of its anonymous_id (identity_map). The select of
    int_profile_events, and of the events its incremental runs map again. -#}
{% macro rfm_events_with_profiles(events_filter=none) -%}
with

events as (
    select * from {{ ref('stg_events__events') }}
    where rejection_reason is null
    {%- if events_filter %}
        and {{ events_filter }}
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
{%- endmacro %}
