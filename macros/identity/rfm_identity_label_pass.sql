{#- SQL: one pass of the label propagation (rfm_identity_label_components): the new label of
    every node, from the labels L and the links (both directions). -#}
{% macro rfm_identity_label_pass(labels, edges) -%}
with

node_labels as (
    select node_id, label_id from {{ labels }}
),

links as (
    select node_id, neighbour_id from {{ edges }}
),

offered_labels as (
    select node_id, label_id from node_labels
    union all
    select
        links.node_id,
        node_labels.label_id
    from links
    inner join node_labels on links.neighbour_id = node_labels.node_id
),

-- P(v): the smallest label among the node's and its neighbours'
propagated as (
    select
        node_id,
        min(label_id) as label_id
    from offered_labels
    group by node_id
),

hook_offers as (
    select node_id, label_id from propagated
    union all
    select
        node_labels.label_id as node_id,
        propagated.label_id
    from node_labels
    inner join propagated on node_labels.node_id = propagated.node_id
),

-- H(x): the smallest label offered to x or to any node whose label is x
hooked as (
    select
        node_id,
        min(label_id) as label_id
    from hook_offers
    group by node_id
)

-- H(H(P(v))): jump twice along the hooked labels
select
    propagated.node_id,
    second_jump.label_id
from propagated
inner join hooked as first_jump on propagated.label_id = first_jump.node_id
inner join hooked as second_jump on first_jump.label_id = second_jump.node_id
{%- endmacro %}
