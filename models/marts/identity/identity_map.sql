{#-
    Every identifier of the identity graph and the profile it belongs to (docs/identity.md):
    - a shared identifier (an e-mail or anonymous_id seen with more than
      rfm_identity_max_user_ids user_ids) belongs to no profile: status 'shared';
    - with rfm_identity_merge_via_anonymous false (the default), an anonymous_id joins the
      profile that all its links to user_ids and e-mails lead to, is a profile of its own when
      it has no such link, and belongs to no profile when they lead to several: 'ambiguous';
    - every other identifier belongs to the profile of its component of merging links
      (int_identity_components), or is a profile of its own.
    profile_id: the smallest identifier of the profile (user_id before email before
    anonymous_id, then the value in byte order), as '<type>:<value>'.
-#}
{{ config(enabled=rfm_events(), post_hook=[rfm_analyze()]) }}
{%- set merge_via_anonymous = rfm_identity_merge_via_anonymous() %}

with

nodes as (
    select * from {{ ref('int_identity_nodes') }}
),

components as (
    select * from {{ ref('int_identity_components') }}
),

links as (
    select * from {{ ref('int_identity_links') }}
),

labelled_nodes as (
    select
        nodes.node_id,
        nodes.naming_rank,
        nodes.identifier_type,
        nodes.is_shared,
        coalesce(components.component_node_id, nodes.node_id) as component_node_id
    from nodes
    left join components on nodes.node_id = components.node_id
),

-- the identifier that names each component: the first in the naming order
component_names as (
    select
        component_node_id,
        min(naming_rank) as naming_rank
    from labelled_nodes
    group by component_node_id
),

-- the components that each anonymous_id's links to user_ids and e-mails lead to
anonymous_links as (
    select
        links.from_node_id as node_id,
        count(distinct linked.component_node_id) as linked_components,
        min(linked.component_node_id) as component_node_id
    from links
    inner join labelled_nodes as linked on links.to_node_id = linked.node_id
    where
        links.from_type = 'anonymous_id'
        and links.to_type <> 'anonymous_id'
        and not linked.is_shared
    group by links.from_node_id
),

assigned as (
    select
        labelled_nodes.node_id,
        case
            when labelled_nodes.is_shared then 'shared'
            {%- if not merge_via_anonymous %}
            when
                labelled_nodes.identifier_type = 'anonymous_id'
                and anonymous_links.linked_components > 1
                then 'ambiguous'
            {%- endif %}
            else 'assigned'
        end as identity_status,
        case
            when labelled_nodes.is_shared then null
            {%- if not merge_via_anonymous %}
            when
                labelled_nodes.identifier_type = 'anonymous_id'
                and anonymous_links.node_id is null
                then labelled_nodes.node_id
            when
                labelled_nodes.identifier_type = 'anonymous_id'
                and anonymous_links.linked_components = 1
                then anonymous_links.component_node_id
            when labelled_nodes.identifier_type = 'anonymous_id' then null
            {%- endif %}
            else labelled_nodes.component_node_id
        end as profile_node_id
    from labelled_nodes
    left join anonymous_links on labelled_nodes.node_id = anonymous_links.node_id
),

identity_map as (
    select
        nodes.identifier_type,
        nodes.identifier_value,
        case
            when profile_nodes.naming_rank is not null
                then {{ dbt.concat([
                    'profile_nodes.identifier_type', "':'", 'profile_nodes.identifier_value'
                ]) }}
        end as profile_id,
        assigned.identity_status,
        cast(nodes.linked_user_ids as {{ dbt.type_int() }}) as linked_user_ids,
        nodes.first_seen_at,
        nodes.last_seen_at
    from nodes
    inner join assigned on nodes.node_id = assigned.node_id
    left join component_names
        on assigned.profile_node_id = component_names.component_node_id
    left join nodes as profile_nodes on component_names.naming_rank = profile_nodes.naming_rank
)

select * from identity_map
