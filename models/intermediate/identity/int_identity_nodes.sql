{#-
    Every identifier of the identity graph (docs/identity.md): its type, value, the distinct
    user_ids it was seen with, its node_id (int_identity_node_ids: kept from run to run, the
    label propagation works on these integers) and naming_rank, its rank in the order that
    picks a profile's id: user_id before email before anonymous_id, then the value in byte
    order. The identifier of smallest naming_rank names its profile.
    An e-mail or anonymous_id seen with more than rfm_identity_max_user_ids user_ids is
    shared (a family e-mail, a shop's kiosk) and merges nothing.
-#}
{{ config(enabled=rfm_events(), materialized='table', post_hook=[rfm_analyze()]) }}

with

identifier_rows as (
    {{- rfm_identity_identifier_rows() }}
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

node_ids as (
    select * from {{ ref('int_identity_node_ids') }}
),

nodes as (
    select
        node_ids.node_id,
        cast(row_number() over (
            order by
                identifiers.type_priority,
                {{ rfm_text_in_byte_order('identifiers.identifier_value') }}
        ) as {{ dbt.type_bigint() }}) as naming_rank,
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifiers.linked_user_ids,
        identifiers.identifier_type <> 'user_id'
        and identifiers.linked_user_ids > {{ rfm_identity_max_user_ids() }} as is_shared,
        identifiers.first_seen_at,
        identifiers.last_seen_at
    from identifiers
    inner join node_ids
        on
            identifiers.identifier_type = node_ids.identifier_type
            and identifiers.identifier_value = node_ids.identifier_value
)

select * from nodes
