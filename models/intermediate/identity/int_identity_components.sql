{#-
    The connected components of the merging links (int_identity_links where is_merging): one
    row per identifier that has such a link, with the smallest node_id of its component. The
    pre-hook computes them by label propagation with pointer jumping in working tables
    (macros/identity/rfm_identity_label_components.sql: the method, why it converges, the
    bound rfm_identity_max_passes); this select reads the result, the post-hook drops the
    working tables. A table recomputed whole on every run: a run after new data equals a
    full refresh.
-#}
{{ config(
    materialized='table',
    pre_hook=["{{ rfm_identity_label_components(ref('int_identity_links')) }}"],
    post_hook=["{{ rfm_identity_drop_work_tables() }}", rfm_analyze()],
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
