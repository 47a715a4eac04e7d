{#-
    Connected components of the links that `edges` selects (node_id, neighbour_id: the merging
    links of int_identity_links, both directions; rfm_identity_update_components), by label
    propagation with pointer jumping, into the working table <this>__labels (node_id,
    label_id); int_identity_components selects it.

    The label of a node starts as the smallest node_id among itself and its neighbours. One
    pass, from the labels L (rfm_identity_label_pass):
      P(v) = min of L(v) and the neighbours' L           (propagation)
      H(x) = min of P(x) and P(v) of every v with L(v) = x (the label's node takes the best
                                                           label offered to any node that points
                                                           at it)
      L'(v) = H(H(P(v)))                                  (pointer jumping)
    Every label is a node of the node's component and never grows, and a pass lowers a label
    whenever a link joins two labels; so the passes stop, and when no link joins two labels
    every component carries one label, which is its smallest node_id (that node's label can be
    no smaller node of its component). Jumping halves the distances: a chain of n nodes takes
    about log2(n) passes. The passes run until a count finds no link whose ends have different
    labels; rfm_identity_max_passes bounds them, and reaching it fails the build naming the var.
-#}
{% macro rfm_identity_label_components(edges_sql) -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set max_passes = rfm_identity_max_passes() -%}
    {%- set edges = rfm_relation_beside('edges') -%}
    {%- set labels = rfm_relation_beside('labels') -%}
    {%- set labels_next = rfm_relation_beside('labels_next') -%}
    {%- do run_query(rfm_create_table_as(edges, edges_sql)) -%}
    {%- do run_query(rfm_create_table_as(labels,
        'select node_id, least(node_id, min(neighbour_id)) as label_id from '
        ~ edges ~ ' group by node_id')) -%}
    {%- set state = {'passes': 0} -%}
    {%- for pass in range(max_passes + 1) -%}
        {%- set open_links = run_query(
            'select count(*) from ' ~ edges ~ ' as edges'
            ~ ' inner join ' ~ labels ~ ' as node_labels on edges.node_id = node_labels.node_id'
            ~ ' inner join ' ~ labels ~ ' as neighbour_labels'
            ~ ' on edges.neighbour_id = neighbour_labels.node_id'
            ~ ' where node_labels.label_id <> neighbour_labels.label_id'
        ).columns[0].values()[0] | int -%}
        {%- if open_links == 0 -%}
            {%- break -%}
        {%- endif -%}
        {%- if pass == max_passes -%}
            {{ exceptions.raise_compiler_error(
                this.identifier ~ ": the label propagation did not converge in "
                ~ "rfm_identity_max_passes=" ~ max_passes ~ " passes (" ~ open_links
                ~ " links still join two labels); raise rfm_identity_max_passes"
            ) }}
        {%- endif -%}
        {%- do adapter.drop_relation(labels_next) -%}
        {%- do run_query(rfm_create_table_as(labels_next, rfm_identity_label_pass(labels, edges))) -%}
        {%- do adapter.drop_relation(labels) -%}
        {%- do adapter.rename_relation(labels_next, labels) -%}
        {%- do state.update({'passes': pass + 1}) -%}
    {%- endfor -%}
    {{ log(this.identifier ~ ": labels converged after " ~ state.passes ~ " passes", info=true) }}
    {{- return('') -}}
{%- endmacro %}
