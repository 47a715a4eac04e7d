{#-
    The links of the identity graph: two identifiers seen in one event or identify call, once
    in each direction, with is_merging: the link takes part in the label propagation when
    neither end is shared and, unless rfm_identity_merge_via_anonymous, neither end is an
    anonymous_id (anonymous_ids then join a profile in identity_map, when all their links lead
    to one; docs/identity.md).
-#}
{{ config(enabled=rfm_events(), materialized='table', post_hook=[rfm_analyze()]) }}
{%- set merge_via_anonymous = rfm_identity_merge_via_anonymous() %}
{%- set pairs = [
    ('user_id', 'email'), ('email', 'user_id'),
    ('user_id', 'anonymous_id'), ('anonymous_id', 'user_id'),
    ('email', 'anonymous_id'), ('anonymous_id', 'email'),
] %}

with

observations as (
    select * from {{ ref('int_identity_observations') }}
),

nodes as (
    select * from {{ ref('int_identity_nodes') }}
),

pairs as (
    {%- for from_type, to_type in pairs %}
    select
        cast('{{ from_type }}' as {{ rfm_type('text') }}) as from_type,
        {{ from_type }} as from_value,
        cast('{{ to_type }}' as {{ rfm_type('text') }}) as to_type,
        {{ to_type }} as to_value
    from observations
    where {{ from_type }} is not null and {{ to_type }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

distinct_pairs as (
    select distinct
        from_type,
        from_value,
        to_type,
        to_value
    from pairs
),

links as (
    select
        from_nodes.node_id as from_node_id,
        to_nodes.node_id as to_node_id,
        distinct_pairs.from_type,
        distinct_pairs.to_type,
        not from_nodes.is_shared
        and not to_nodes.is_shared
        {%- if not merge_via_anonymous %}
        and distinct_pairs.from_type <> 'anonymous_id'
        and distinct_pairs.to_type <> 'anonymous_id'
        {%- endif %} as is_merging
    from distinct_pairs
    inner join nodes as from_nodes
        on
            distinct_pairs.from_type = from_nodes.identifier_type
            and distinct_pairs.from_value = from_nodes.identifier_value
    inner join nodes as to_nodes
        on
            distinct_pairs.to_type = to_nodes.identifier_type
            and distinct_pairs.to_value = to_nodes.identifier_value
)

select * from links
