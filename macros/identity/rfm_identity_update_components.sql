{#-
    Pre-hook of int_identity_components: the components of the merging links of `links`
    (int_identity_links where is_merging) into the working table <this>__labels, which the model
    inserts.

    A first build, a --full-refresh, a Spark build or a missing copy of the last run's merging
    links (<this>__merging_links, rfm_identity_store_merging_links) labels every node. Otherwise
    only the components that changed are labelled again:
    - changed: the ends of the merging links added or removed since the last run (a new
      identifier, a new link, an identifier that became shared or stopped being seen);
    - affected: those nodes and every node of their stored components.
    The propagation runs over the merging links of the affected nodes, and their stored rows
    are deleted. This equals labelling every node: a merging link with one end affected has
    both ends affected (a link that did not change joins two nodes of one stored component),
    so the affected nodes hold whole components of today's links; every other stored component
    kept all its links, and no link was added to it, so it is still a component, and its
    label, its smallest node_id, still holds (node_ids are kept from run to run,
    int_identity_node_ids).
-#}
{% macro rfm_identity_update_components(links) -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- do rfm_identity_drop_work_tables() -%}
    {%- set merging_links = 'select from_node_id, to_node_id from ' ~ links ~ ' where is_merging' -%}
    {%- set links_seen = load_relation(rfm_relation_beside('merging_links')) -%}
    {%- if target.type == 'spark' or not is_incremental() or links_seen is none -%}
        {%- do rfm_identity_label_components(
            'select distinct from_node_id as node_id, to_node_id as neighbour_id from '
            ~ links ~ ' where is_merging') -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set changed = rfm_relation_beside('changed') -%}
    {%- set affected = rfm_relation_beside('affected') -%}
    {#- both directions of every link are stored: from_node_id holds both ends -#}
    {%- do run_query(rfm_create_table_as(changed,
        'select from_node_id as node_id from (' ~ merging_links
        ~ ' except select from_node_id, to_node_id from ' ~ links_seen ~ ') as added'
        ~ ' union select from_node_id from (select from_node_id, to_node_id from ' ~ links_seen
        ~ ' except ' ~ merging_links ~ ') as removed')) -%}
    {%- do rfm_create_analyzed_table(affected,
        'select node_id from ' ~ changed
        ~ ' union select stored.node_id from ' ~ this ~ ' as stored'
        ~ ' inner join (select distinct stored_changed.component_node_id from ' ~ this
        ~ ' as stored_changed inner join ' ~ changed ~ ' as changed'
        ~ ' on stored_changed.node_id = changed.node_id) as changed_components'
        ~ ' on stored.component_node_id = changed_components.component_node_id') -%}
    {%- do rfm_identity_label_components(
        'select distinct links.from_node_id as node_id, links.to_node_id as neighbour_id from '
        ~ links ~ ' as links inner join ' ~ affected ~ ' as affected'
        ~ ' on links.from_node_id = affected.node_id where links.is_merging') -%}
    {%- do run_query('delete from ' ~ this ~ ' where node_id in (select node_id from '
        ~ affected ~ ')') -%}
    {%- set counts = run_query('select (select count(*) from ' ~ affected ~ '), (select count(*) from '
        ~ this ~ ')').rows[0] -%}
    {{ log(this.identifier ~ ": " ~ counts[0] ~ " nodes labelled again, "
        ~ counts[1] ~ " kept", info=true) }}
    {{- return('') -}}
{%- endmacro %}


{#- Post-hook of int_identity_components: keeps the merging links it was built from
    (<this>__merging_links), which the next run compares with its own. -#}
{% macro rfm_identity_store_merging_links(links) -%}
    {%- if not execute or target.type == 'spark' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set links_seen = rfm_relation_beside('merging_links') -%}
    {%- do adapter.drop_relation(links_seen) -%}
    {%- do run_query(rfm_create_table_as(links_seen,
        'select from_node_id, to_node_id from ' ~ links ~ ' where is_merging')) -%}
    {{- return('') -}}
{%- endmacro %}
