{#- SQL: the join condition of two relations' identifier sets (user_id, anonymous_id, email),
    a null equal to a null: each side coalesced to '', which no normalised identifier is (a
    blank one is dropped), so that the join stays an equality the engines can hash. -#}
{% macro rfm_same_identifier_set(left, right) -%}
    {%- for column in ['user_id', 'anonymous_id', 'email'] %}
        {{- ' and ' if not loop.first }}coalesce({{ left }}.{{ column }}, '') = coalesce({{ right }}.{{ column }}, '')
    {%- endfor %}
{%- endmacro %}


{#- SQL: (occurred_at, user_id, anonymous_id, email) of the clean events and the clean identify
    calls, those that meet `where` (SQL on occurred_at; none: all): what the identity graph
    observes. -#}
{% macro rfm_observed_rows(where=none) -%}
    {%- for staging in [ref('stg_events__events'), ref('stg_events__identifies')] %}
    select
        occurred_at,
        user_id,
        anonymous_id,
        email
    from {{ staging }}
    where
        rejection_reason is null
        {%- if where %}
        and {{ where }}
        {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{#- What an incremental run of int_identity_observations reads again (a dict, read the same way
    by its select and its pre-hook), from what its two stagings (stg_events__events,
    stg_events__identifies) screened again since its last run: every_row (a first build, a
    --full-refresh, a missing marker, or a run of either staging that screened every row), else
    rescreened_from, the earlier of the first days they screened again (none when neither
    ran: nothing to read). -#}
{% macro rfm_observations_plan() -%}
    {%- set events = rfm_staging_reader_plan(ref('stg_events__events'), 'events_read') -%}
    {%- set identifies = rfm_staging_reader_plan(ref('stg_events__identifies'), 'identifies_read') -%}
    {%- set days = [events.rescreened_from, identifies.rescreened_from] | reject('none') | list -%}
    {{- return({
        'every_row': events.every_row or identifies.every_row,
        'rescreened_from': days | min if days else none,
    }) -}}
{%- endmacro %}


{#- Pre-hook of int_identity_observations (an incremental run; nothing on Spark, where it is a
    table): with every row to read, deletes every stored row; with rows screened again from a
    day D, creates the working tables the model's select reads and deletes the stored rows of
    those sets:
    - <this>__reobserved: every set seen from D on, in the clean events and identify calls (a
      set seen before D too among them) or in the stored rows, with its first instant (the
      stored one when before D: the rows before D were not screened again; else the first from
      D on) and its last (the last from D on; null when it has none any more: then null first
      instant as well when it had no earlier row either, and the set is gone);
    - <this>__seen_before: for the sets left with rows before D only, their last instant (read
      from the stagings for those sets alone, and only when there are any).
    Logs how many sets it observes again. -#}
{% macro rfm_delete_reobserved_sets() -%}
    {%- if not execute or config.get('materialized') != 'incremental' or not is_incremental() -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set plan = rfm_observations_plan() -%}
    {%- if plan.every_row -%}
        {%- do run_query('delete from ' ~ this) -%}
        {{- return('') -}}
    {%- elif plan.rescreened_from is none -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set since = rfm_date_literal(plan.rescreened_from) -%}
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
            from ({{ rfm_observed_rows('occurred_at >= ' ~ since) }}) as observed
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
        -- the sets seen again, and the stored ones whose rows from D on may be gone
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
            observed.user_id,
            observed.anonymous_id,
            observed.email,
            max(observed.occurred_at) as last_seen_at
        from ({{ rfm_observed_rows('occurred_at < ' ~ since) }}) as observed
        inner join {{ reobserved }} as reobserved
            on {{ rfm_same_identifier_set('observed', 'reobserved') }}
        where
            reobserved.first_seen_at is not null
            and reobserved.last_seen_at is null
            {%- if seen_before_only == 0 %}
            -- no such set: nothing to read
            and 1 = 0
            {%- endif %}
        group by observed.user_id, observed.anonymous_id, observed.email
    {%- endset -%}
    {%- do rfm_create_analyzed_table(rfm_relation_beside('seen_before'), seen_before_sql) -%}
    {%- do run_query(
        'delete from ' ~ this ~ ' as stored where exists (select 1 from ' ~ reobserved
        ~ ' as reobserved where ' ~ rfm_same_identifier_set('reobserved', 'stored') ~ ')'
    ) -%}
    {%- do log(this.identifier ~ ': ' ~ counts[0] ~ ' sets observed again from '
        ~ plan.rescreened_from ~ ', ' ~ seen_before_only ~ ' of them with earlier rows only',
        info=true) -%}
    {{- return('') -}}
{%- endmacro %}


{#- Post-hook of int_identity_observations: drops the working tables and records the last run
    of each staging read, for the next run's plan. Nothing where the model is a table
    (Spark). -#}
{% macro rfm_store_observations_state() -%}
    {%- if not execute or config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- for working_table in ['reobserved', 'seen_before'] -%}
        {%- do run_query('drop table if exists ' ~ rfm_relation_beside(working_table)) -%}
    {%- endfor -%}
    {%- do rfm_store_rescreens_read(ref('stg_events__events'), 'events_read') -%}
    {%- do rfm_store_rescreens_read(ref('stg_events__identifies'), 'identifies_read') -%}
    {{- return('') -}}
{%- endmacro %}
