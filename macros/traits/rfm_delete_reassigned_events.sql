{#-
    Pre-hook of int_profile_events (rfm_profile_events_plan). On an incremental run it writes
    the working table <this>__reassigned - the identifiers whose profile differs between
    identity_map and the copy the stored rows were built with (<this>__identity_map; an
    identifier that gained or lost its profile too), with both profiles -, and <this>
    __reselected - the clean events of those identifiers. It maps the events the run selects
    again (rfm_selected_again) anew (rfm_events_with_profiles) and compares them with their
    stored rows: the stored rows that changed or are gone go to <this>__stale and are
    deleted, the new and changed rows go to <this>__fresh, which the model inserts, and the
    profiles of both (from their first changed event), with both profiles of each reassigned
    identifier (from the start), go to the queue (rfm_queue_changed_profiles). An event mapped again to the same row changes nothing. Or it deletes every stored event, queueing every profile. In the model's
    transaction.
-#}
{% macro rfm_delete_reassigned_events() -%}
    {%- if not execute or config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set plan = rfm_profile_events_plan() -%}
    {%- if plan.every_event -%}
        {%- do rfm_queue_changed_profiles(
            'select cast(null as ' ~ rfm_type('text') ~ ') as profile_id, cast(null as '
            ~ dbt.type_timestamp() ~ ') as changed_from') -%}
        {%- if is_incremental() %}
        delete from {{ this }}
        {%- endif -%}
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
                    as identifier_value,
                stored_map.profile_id as stored_profile_id,
                current_map.profile_id as current_profile_id
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
        {%- do run_query(create_reassigned) -%}
        {%- set reselected = rfm_relation_beside('reselected') -%}
        {%- do rfm_create_analyzed_table(reselected,
            'select events.event_id from ' ~ ref('stg_events__events')
            ~ ' as events where events.rejection_reason is null and '
            ~ rfm_reassigned_events('events')) -%}
        {%- set selected_again = rfm_selected_again(plan) -%}
        {%- set previous = rfm_relation_beside('previous') -%}
        {%- set selected = rfm_relation_beside('selected') -%}
        {%- set stale = rfm_relation_beside('stale') -%}
        {%- set fresh = rfm_relation_beside('fresh') -%}
        {%- set columns = rfm_profile_event_columns() -%}
        {%- for working_table in [previous, selected, stale, fresh] -%}
            {%- do run_query('drop table if exists ' ~ working_table) -%}
        {%- endfor -%}
        {%- do run_query('create table ' ~ previous ~ ' as select ' ~ columns ~ ' from '
            ~ this ~ ' where ' ~ selected_again) -%}
        {%- do run_query('create table ' ~ selected ~ ' as '
            ~ rfm_events_with_profiles(selected_again)) -%}
        {%- do run_query('create table ' ~ stale ~ ' as select ' ~ columns ~ ' from ' ~ previous
            ~ ' except select ' ~ columns ~ ' from ' ~ selected) -%}
        {%- do run_query('create table ' ~ fresh ~ ' as select ' ~ columns ~ ' from ' ~ selected
            ~ ' except select ' ~ columns ~ ' from ' ~ previous) -%}
        {%- do run_query('drop table ' ~ previous) -%}
        {%- do run_query('drop table ' ~ selected) -%}
        {#- a profile whose events changed: from its first changed event; a profile that
            gained or lost an identifier: from the start (its user_ids' payments too) -#}
        {%- set changed_profiles -%}
            select profile_id, min(occurred_at) as changed_from
            from (
                select profile_id, occurred_at from {{ stale }}
                union all
                select profile_id, occurred_at from {{ fresh }}
            ) as changed_events
            group by profile_id
            union all
            select stored_profile_id, cast(null as {{ dbt.type_timestamp() }})
            from {{ reassigned }} where stored_profile_id is not null
            union all
            select current_profile_id, cast(null as {{ dbt.type_timestamp() }})
            from {{ reassigned }} where current_profile_id is not null
        {%- endset -%}
        {%- do rfm_queue_changed_profiles(changed_profiles) %}
        -- the stored rows that changed or are gone (the model inserts the fresh ones)
        delete from {{ this }}
        where event_id in (select event_id from {{ stale }})
    {%- endif -%}
{%- endmacro %}


{#- SQL: true for an event (of stg_events__events or int_profile_events) that an incremental
    run of int_profile_events selects again (rfm_profile_events_plan, not every_event): dated
    from the first day the staging screened again, or one of <this>__reselected (a small table
    by then, so that the engines hash it rather than scan it per row). -#}
{% macro rfm_selected_again(plan) -%}
    (
        {%- if plan.rescreened_from is not none %}
        occurred_at >= {{ rfm_date_literal(plan.rescreened_from) }}
        or
        {%- endif %}
        event_id in (select event_id from {{ rfm_relation_beside('reselected') }})
    )
{%- endmacro %}


{#- SQL: the columns of an int_profile_events row. -#}
{% macro rfm_profile_event_columns() -%}
    profile_id, event_id, occurred_at, event_name, revenue, product_id
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
    the last run of the staging read (<this>__rescreens_read) - and drops the working tables.
    Nothing where the model is a table (Spark). -#}
{% macro rfm_store_profile_events_state() -%}
    {%- if not execute or config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set stored_map = rfm_relation_beside('identity_map') -%}
    {%- for working_table in ['reassigned', 'reselected', 'stale', 'fresh'] -%}
        {%- do run_query('drop table if exists ' ~ rfm_relation_beside(working_table)) -%}
    {%- endfor -%}
    {%- do run_query('drop table if exists ' ~ stored_map) -%}
    {%- do run_query('create table ' ~ stored_map ~ ' as ' ~ rfm_profile_identity_map()) -%}
    {%- do rfm_store_rescreens_read(ref('stg_events__events')) -%}
    {{- return('') -}}
{%- endmacro %}
