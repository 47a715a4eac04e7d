{#-
    Pre-hook of int_profile_events on an incremental run (rfm_profile_events_plan): writes the
    working table <this>__reassigned - the identifiers whose profile differs between
    identity_map and the copy the stored rows were built with (<this>__identity_map; an
    identifier that gained or lost its profile too) - and deletes the stored events that the
    run selects again: those dated from the day the staging screened again, and the clean
    events of a reassigned identifier; or every stored event. In the model's transaction.
-#}
{% macro rfm_delete_reassigned_events() -%}
    {%- if not execute or not is_incremental() -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set plan = rfm_profile_events_plan() -%}
    {%- if plan.every_event %}
        delete from {{ this }}
    {%- else -%}
        {%- set reassigned = rfm_relation_beside('reassigned') -%}
        {%- set stored_map = rfm_relation_beside('identity_map') -%}
        {%- do run_query('drop table if exists ' ~ reassigned) -%}
        {%- set create_reassigned -%}
            create table {{ reassigned }} as
            select
                coalesce(current_map.identifier_type, stored_map.identifier_type)
                    as identifier_type,
                coalesce(current_map.identifier_value, stored_map.identifier_value)
                    as identifier_value
            from ({{ rfm_profile_identity_map() }}) as current_map
            full outer join {{ stored_map }} as stored_map
                on
                    current_map.identifier_type = stored_map.identifier_type
                    and current_map.identifier_value = stored_map.identifier_value
            where
                current_map.identifier_value is null
                or stored_map.identifier_value is null
                or current_map.profile_id <> stored_map.profile_id
        {%- endset -%}
        {%- do run_query(create_reassigned) %}
        delete from {{ this }}
        where
            {%- if plan.rescreened_from is not none %}
            occurred_at >= {{ rfm_date_literal(plan.rescreened_from) }}
            or
            {%- endif %}
            event_id in (
                select events.event_id
                from {{ ref('stg_events__events') }} as events
                where events.rejection_reason is null and {{ rfm_reassigned_events('events') }}
            )
    {%- endif -%}
{%- endmacro %}


{#- SQL: the identifiers of identity_map that belong to a profile, with it: what an event's
    profile is read from, and what int_profile_events keeps a copy of. -#}
{% macro rfm_profile_identity_map() -%}
    select identifier_type, identifier_value, profile_id
    from {{ ref('identity_map') }}
    where profile_id is not null
{%- endmacro %}


{#- Post-hook of int_profile_events: records what the stored rows were built with, for the next
    run's rfm_profile_events_plan - a copy of identity_map's profiles (<this>__identity_map) and
    the last run of the staging read (<this>__rescreens_read) - and drops the working table.
    Nothing where the model is a table (Spark). -#}
{% macro rfm_store_profile_events_state() -%}
    {%- if not execute or config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set stored_map = rfm_relation_beside('identity_map') -%}
    {%- set rescreens_read = rfm_relation_beside('rescreens_read') -%}
    {%- set rescreens = rfm_relation_beside('rescreens', ref('stg_events__events')) -%}
    {%- do run_query('drop table if exists ' ~ rfm_relation_beside('reassigned')) -%}
    {%- do run_query('drop table if exists ' ~ stored_map) -%}
    {%- do run_query('create table ' ~ stored_map ~ ' as ' ~ rfm_profile_identity_map()) -%}
    {%- do run_query('drop table if exists ' ~ rescreens_read) -%}
    {%- if load_relation(rescreens) is none -%}
        {%- do run_query('create table ' ~ rescreens_read ~ ' as select cast(0 as '
            ~ dbt.type_bigint() ~ ') as rescreen_number') -%}
    {%- else -%}
        {%- do run_query('create table ' ~ rescreens_read ~ ' as select coalesce(max('
            ~ 'rescreen_number), 0) as rescreen_number from ' ~ rescreens) -%}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}
