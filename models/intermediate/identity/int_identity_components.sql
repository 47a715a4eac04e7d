{#-
    The connected components of the merging links (int_identity_links where is_merging): one
    row per identifier that has such a link, with the smallest node_id of its component. The
    pre-hook computes them by label propagation with pointer jumping in working tables
    (macros/identity/rfm_identity_label_components.sql: the method, why it converges, the
    bound rfm_identity_max_passes); this select reads the result, the post-hooks keep the
    merging links for the next run and drop the working tables.

    Incremental (a table on Spark; rfm_identity_update_components): a run labels again only
    the components whose merging links changed since the last run - a merge, a split, a new
    identifier - and keeps every other row, which equals labelling every node.
-#}
{{ config(
    enabled=rfm_events(),
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[rfm_lock_model(), "{{ rfm_identity_update_components(ref('int_identity_links')) }}"],
    post_hook=[
        "{{ rfm_identity_store_merging_links(ref('int_identity_links')) }}",
        "{{ rfm_identity_drop_work_tables() }}",
        rfm_analyze(),
    ],
) }}

-- depends_on: {{ ref('int_identity_links') }}

with

converged_labels as (
    select
        node_id,
        label_id as component_node_id
    from {{ rfm_relation_beside('labels') }}
)

select * from converged_labels
