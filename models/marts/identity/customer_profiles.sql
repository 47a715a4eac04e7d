{#-
    One row per profile of the identity graph (identity_map): how many identifiers of each
    type it gathers and when it was first and last seen. A profile with several user_ids is
    one person with several accounts (docs/identity.md).
-#}
{{ config(enabled=rfm_events(), post_hook=[rfm_analyze()]) }}

with

identity_map as (
    select * from {{ ref('identity_map') }}
    where profile_id is not null
),

counted as (
    select
        profile_id,
        count(case when identifier_type = 'user_id' then 1 end) as user_ids,
        count(case when identifier_type = 'email' then 1 end) as emails,
        count(case when identifier_type = 'anonymous_id' then 1 end) as anonymous_ids,
        count(*) as identifiers,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from identity_map
    group by profile_id
),

profiles as (
    select
        profile_id,
        cast(user_ids as {{ dbt.type_int() }}) as user_ids,
        cast(emails as {{ dbt.type_int() }}) as emails,
        cast(anonymous_ids as {{ dbt.type_int() }}) as anonymous_ids,
        cast(identifiers as {{ dbt.type_int() }}) as identifiers,
        first_seen_at,
        last_seen_at
    from counted
)

select * from profiles
