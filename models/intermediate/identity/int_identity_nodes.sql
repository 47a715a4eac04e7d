{#-
    Every identifier of the identity graph (docs/identity.md): its type, value, the distinct
    user_ids it was seen with, and node_id, its rank in the order that picks a profile's id:
    user_id before email before anonymous_id, then the value in byte order. The label
    propagation works on these integers; the smallest node_id of a profile names it.
    An e-mail or anonymous_id seen with more than rfm_identity_max_user_ids user_ids is
    shared (a family e-mail, a shop's kiosk) and merges nothing.
-#}
{{ config(materialized='table', post_hook=[rfm_analyze()]) }}

with

observations as (
    select * from {{ ref('int_identity_observations') }}
),

identifier_rows as (
    select
        cast('user_id' as {{ rfm_type('text') }}) as identifier_type,
        1 as type_priority,
        user_id as identifier_value,
        user_id as linked_user_id,
        first_seen_at,
        last_seen_at
    from observations
    where user_id is not null
    union all
    select
        cast('email' as {{ rfm_type('text') }}) as identifier_type,
        2 as type_priority,
        email as identifier_value,
        user_id as linked_user_id,
        first_seen_at,
        last_seen_at
    from observations
    where email is not null
    union all
    select
        cast('anonymous_id' as {{ rfm_type('text') }}) as identifier_type,
        3 as type_priority,
        anonymous_id as identifier_value,
        user_id as linked_user_id,
        first_seen_at,
        last_seen_at
    from observations
    where anonymous_id is not null
),

identifiers as (
    select
        identifier_type,
        type_priority,
        identifier_value,
        count(distinct linked_user_id) as linked_user_ids,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from identifier_rows
    group by identifier_type, type_priority, identifier_value
),

nodes as (
    select
        cast(row_number() over (
            order by type_priority, {{ rfm_text_in_byte_order('identifier_value') }}
        ) as {{ dbt.type_bigint() }}) as node_id,
        identifier_type,
        identifier_value,
        linked_user_ids,
        identifier_type <> 'user_id'
        and linked_user_ids > {{ rfm_identity_max_user_ids() }} as is_shared,
        first_seen_at,
        last_seen_at
    from identifiers
)

select * from nodes
