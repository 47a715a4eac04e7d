{#- SQL: the join condition of two relations' identifier sets (user_id, anonymous_id, email),
    a null equal to a null: each side coalesced to '', which no normalised identifier is (a
    blank one is dropped), so that the join stays an equality the engines can hash. -#}
{% macro rfm_same_identifier_set(left, right) -%}
    {%- for column in ['user_id', 'anonymous_id', 'email'] %}
        {{- ' and ' if not loop.first }}coalesce({{ left }}.{{ column }}, '') = coalesce({{ right }}.{{ column }}, '')
    {%- endfor %}
{%- endmacro %}


{#- What an incremental run of int_identity_event_observations reads again (a dict, read the
    same way by its select and its pre-hook): every_event (a first build, a --full-refresh, a
    staging run since that screened every row, a missing marker), else rescreened_from, the
    first day the staging screened again since this model's last run (none when the staging
    did not run: nothing to read). -#}
{% macro rfm_event_observations_plan() -%}
    {%- set since = rfm_staging_reader_plan(ref('stg_events__events')) -%}
    {{- return({'every_event': since.every_row, 'rescreened_from': since.rescreened_from}) -}}
{%- endmacro %}


{#- Pre-hook of int_identity_event_observations (an incremental run; nothing on Spark, where it
    is a table): with every event to read, deletes every stored row; with events screened
    again from a day D, creates the working tables the model's select reads and deletes the
    stored rows of those sets:
    - <this>__reobserved: every set seen from D on, in the staging's clean events (a set seen
      before D too among them) or in the stored rows, with its first instant (the stored one when before D: the events before D
      were not screened again; else the first event from D on) and its last (the last event
      from D on; null when it has none any more: then null first instant as well when it had
      no earlier event either, and the set is gone);
    - <this>__seen_before: for the sets left with events before D only, their last instant
      (read from the staging for those sets alone, and only when there are any).
    Logs how many sets it observes again. -#}
{% macro rfm_delete_reobserved_sets() -%}
    {%- if not execute or config.get('materialized') != 'incremental' or not is_incremental() -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set plan = rfm_event_observations_plan() -%}
    {%- if plan.every_event -%}
        {%- do run_query('delete from ' ~ this) -%}
        {{- return('') -}}
    {%- elif plan.rescreened_from is none -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set since = rfm_date_literal(plan.rescreened_from) -%}
    {%- set events = ref('stg_events__events') -%}
    {%- set reobserved = rfm_relation_beside('reobserved') -%}
    {%- set reobserved_sql -%}
        with

        fresh as (
            select
                user_id,
                anonymous_id,
                email,
                1 as is_fresh,
                min(occurred_at) as first_seen_at,
                max(occurred_at) as last_seen_at
            from {{ events }}
            where rejection_reason is null and occurred_at >= {{ since }}
            group by user_id, anonymous_id, email
        )

        select
            coalesce(fresh.user_id, stored.user_id) as user_id,
            coalesce(fresh.anonymous_id, stored.anonymous_id) as anonymous_id,
            coalesce(fresh.email, stored.email) as email,
            case
                when stored.first_seen_at < {{ since }} then stored.first_seen_at
                else fresh.first_seen_at
            end as first_seen_at,
            fresh.last_seen_at
        from fresh
        full outer join {{ this }} as stored
            on {{ rfm_same_identifier_set('fresh', 'stored') }}
        -- the sets seen again, and the stored ones whose events from D on may be gone
        where fresh.is_fresh = 1 or stored.last_seen_at >= {{ since }}
    {%- endset -%}
    {%- do rfm_create_analyzed_table(reobserved, reobserved_sql) -%}
    {%- set counts = run_query(
        'select count(*), sum(case when first_seen_at is not null and last_seen_at is null'
        ~ ' then 1 else 0 end) from ' ~ reobserved
    ).rows[0] -%}
    {%- set seen_before_only = counts[1] or 0 -%}
    {%- set seen_before_sql -%}
        select
            events.user_id,
            events.anonymous_id,
            events.email,
            max(events.occurred_at) as last_seen_at
        from {{ events }} as events
        inner join {{ reobserved }} as reobserved
            on {{ rfm_same_identifier_set('events', 'reobserved') }}
        where
            reobserved.first_seen_at is not null
            and reobserved.last_seen_at is null
            and events.rejection_reason is null
            and events.occurred_at < {{ since }}
            {%- if seen_before_only == 0 %}
            -- no such set: nothing to read
            and 1 = 0
            {%- endif %}
        group by events.user_id, events.anonymous_id, events.email
    {%- endset -%}
    {%- do rfm_create_analyzed_table(rfm_relation_beside('seen_before'), seen_before_sql) -%}
    {%- do run_query(
        'delete from ' ~ this ~ ' as stored where exists (select 1 from ' ~ reobserved
        ~ ' as reobserved where ' ~ rfm_same_identifier_set('reobserved', 'stored') ~ ')'
    ) -%}
    {%- do log(this.identifier ~ ': ' ~ counts[0] ~ ' sets observed again from '
        ~ plan.rescreened_from ~ ', ' ~ seen_before_only ~ ' of them with earlier events only',
        info=true) -%}
    {{- return('') -}}
{%- endmacro %}


{#- Post-hook of int_identity_event_observations: drops the working tables and records the
    staging's last run read, for the next run's plan. Nothing where the model is a table
    (Spark). -#}
{% macro rfm_store_event_observations_state() -%}
    {%- if not execute or config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- for working_table in ['reobserved', 'seen_before'] -%}
        {%- do run_query('drop table if exists ' ~ rfm_relation_beside(working_table)) -%}
    {%- endfor -%}
    {%- do rfm_store_rescreens_read(ref('stg_events__events')) -%}
    {{- return('') -}}
{%- endmacro %}
