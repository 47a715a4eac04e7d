{#-
    The integer id of every identifier the graph has seen (docs/identity.md, "Runs"): assigned
    once and kept, so that a run's links and components compare with the stored ones by id.
    A run appends the identifiers seen for the first time, numbered after the stored ones in
    the order that names profiles (user_id, then email, then anonymous_id; then the value in
    byte order); a first build or a --full-refresh numbers them all in that order. An
    identifier no longer seen keeps its id. A table on Spark, where the components are
    recomputed whole: the ids are then numbered afresh on every run.
-#}
{{ config(
    enabled=rfm_events(),
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[rfm_lock_model()],
    post_hook=[rfm_analyze()],
    indexes=rfm_unique_index(['identifier_type', 'identifier_value']),
) }}

with

identifiers as (
    select distinct
        identifier_type,
        type_priority,
        identifier_value
    from ({{ rfm_identity_identifier_rows() }}) as identifier_rows
),

{%- if is_incremental() %}

stored_ids as (
    select
        identifier_type,
        identifier_value,
        node_id
    from {{ this }}
),

new_identifiers as (
    select identifiers.*
    from identifiers
    left join stored_ids
        on
            identifiers.identifier_type = stored_ids.identifier_type
            and identifiers.identifier_value = stored_ids.identifier_value
    where stored_ids.node_id is null
),
{%- else %}

new_identifiers as (
    select * from identifiers
),
{%- endif %}

-- numbered after the last stored id, read once by a scalar subquery (PostgreSQL rescanned a
-- join to it for every new row)
numbered as (
    select
        identifier_type,
        identifier_value,
        cast(
            {%- if is_incremental() %}
            (select coalesce(max(node_id), 0) from {{ this }}) +
            {%- endif %}
            row_number() over (
                order by type_priority, {{ rfm_text_in_byte_order('identifier_value') }}
            ) as {{ dbt.type_bigint() }}
        ) as node_id
    from new_identifiers
)

select * from numbered
