{#- Passes when the components of the model (node_id, component_node_id) are closed under the
    merging links of `links`: no merging link joins two components, every end of a merging
    link has a component and every node of a component a merging link, and every component is
    named by its smallest node, which names itself. Returns the offending rows. -#}
{% test identity_components_are_closed(model, links) %}

with

components as (
    select node_id, component_node_id from {{ model }}
),

merging_links as (
    select from_node_id, to_node_id from {{ links }}
    where is_merging
),

open_links as (
    select
        merging_links.from_node_id as node_id,
        'a merging link joins two components' as problem
    from merging_links
    left join components as from_components
        on merging_links.from_node_id = from_components.node_id
    left join components as to_components
        on merging_links.to_node_id = to_components.node_id
    where
        from_components.component_node_id is null
        or to_components.component_node_id is null
        or from_components.component_node_id <> to_components.component_node_id
),

stray_nodes as (
    select
        components.node_id,
        'a node of a component has no merging link' as problem
    from components
    left join (select distinct from_node_id from merging_links) as linked
        on components.node_id = linked.from_node_id
    where linked.from_node_id is null
),

misnamed_components as (
    select
        components.node_id,
        'a component is not named by its smallest node' as problem
    from components
    left join components as names
        on components.component_node_id = names.node_id
    where
        names.component_node_id is null
        or names.component_node_id <> components.component_node_id
        or components.component_node_id > components.node_id
)

select * from open_links
union all
select * from stray_nodes
union all
select * from misnamed_components

{% endtest %}
