{#-
    int_profile_events' queue <int_profile_events>__changed_profiles (changed_at, profile_id,
    changed_from): the profiles whose events changed, stamped with the run that changed them,
    and the first instant from which they changed (null: from the start; a null profile_id:
    every profile). Its readers, profile_traits and rfm_user_traits, each record when they
    last read it (read_at in <reader>__state), and the queue is emptied up to the earliest
    of those (rfm_prune_changed_profiles). A reader that has never been built reads nothing
    from it: its first build computes every row.
-#}


{#- Appends the rows of `profiles` (a select of profile_id, changed_from) to the queue, stamped
    with the run. A queue written before it had changed_from is started again with a row that
    makes its readers recompute every profile. -#}
{% macro rfm_queue_changed_profiles(profiles) -%}
    {%- set queue = rfm_relation_beside('changed_profiles') -%}
    {%- set stored = load_relation(queue) -%}
    {%- if stored is not none and 'changed_from' not in (
        adapter.get_columns_in_relation(stored) | map(attribute='name') | map('lower') | list) -%}
        {%- do adapter.drop_relation(stored) -%}
        {%- set stored = none -%}
        {%- set profiles = 'select cast(null as ' ~ rfm_type('text') ~ ') as profile_id, cast(null as '
            ~ dbt.type_timestamp() ~ ') as changed_from' -%}
    {%- endif -%}
    {%- if stored is none -%}
        {%- do run_query('create table ' ~ queue ~ ' (changed_at ' ~ dbt.type_timestamp()
            ~ ', profile_id ' ~ rfm_type('text') ~ ', changed_from ' ~ dbt.type_timestamp() ~ ')') -%}
        {#- the readers, later in the run, look it up in dbt's cache of relations -#}
        {%- do adapter.cache_added(queue) -%}
    {%- endif -%}
    {%- do run_query(
        'insert into ' ~ queue ~ ' (changed_at, profile_id, changed_from) select distinct '
        ~ rfm_run_started_at() ~ ', profile_id, changed_from from (' ~ profiles ~ ') as changed'
    ) -%}
{%- endmacro %}


{#- Post-hook of a reader of the queue (profile_traits, rfm_user_traits): deletes the rows that
    it has read (up to this run) and that the other reader, when it has a <reader>__state,
    has read too. -#}
{% macro rfm_prune_changed_profiles() -%}
    {%- set queue = load_relation(
        rfm_relation_beside('changed_profiles', ref('int_profile_events'))) -%}
    {%- if queue is none -%}
        {{- return('') -}}
    {%- endif -%}
    {#- this reader read up to this run; the other, up to its committed state -#}
    {%- set reads = [rfm_run_started_at()] -%}
    {%- for reader in ['profile_traits', 'rfm_user_traits'] if reader != this.identifier -%}
        {%- set state = load_relation(this.incorporate(
            path={'identifier': reader ~ '__state'}, type='table')) -%}
        {%- if state is not none -%}
            {%- do reads.append('(select max(read_at) from ' ~ state ~ ')') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do run_query('delete from ' ~ queue ~ ' where changed_at <= '
        ~ reads | join(' and changed_at <= ')) -%}
    {{- return('') -}}
{%- endmacro %}


{#- Post-hook of a reader of the queue: records what it read in <this>__state, a one-row table
    whose first column is read_at (the run's start). Written in place (delete, insert) rather
    than dropped and created again: the other reader, running beside it, then reads the
    committed row while this transaction is open. -#}
{% macro rfm_store_reader_state(state_select) -%}
    {%- set state = rfm_relation_beside('state') -%}
    {%- if load_relation(state) is none -%}
        {%- do run_query('create table ' ~ state ~ ' as ' ~ state_select) -%}
    {%- else -%}
        {%- do run_query('delete from ' ~ state) -%}
        {%- do run_query('insert into ' ~ state ~ ' ' ~ state_select) -%}
    {%- endif -%}
{%- endmacro %}


{#- Jinja: what a reader of the queue (profile_traits, rfm_user_traits) has to recompute besides
    the queued profiles: none when every row (a missing marker, a changed seed computed_traits,
    a queued run of int_profile_events that recomputed every event since read_at, or - with a
    trait that includes payments - a run of the payments' staging that screened every row or
    a missing marker of it); otherwise a dict of state (the row of <this>__state, its columns
    `state_columns`, read_at first) and payments (rfm_rescreens_since of the payments' staging
    since the run recorded in the state's payments_rescreen; none when no trait includes
    payments). -#}
{% macro rfm_queue_reader_plan(traits, state_columns) -%}
    {%- set state = load_relation(rfm_relation_beside('state')) -%}
    {%- set queue = load_relation(rfm_relation_beside('changed_profiles', ref('int_profile_events'))) -%}
    {%- if state is none or queue is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set definitions = rfm_screening_rules_changed(rfm_trait_definitions(), 'trait_definitions') -%}
    {%- if run_query(definitions).columns[0].values()[0] > 0 -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set row = run_query('select ' ~ state_columns ~ ' from ' ~ state).rows[0] -%}
    {%- set every_event = run_query(
        'select count(*) from ' ~ queue ~ ' where profile_id is null and changed_at > '
        ~ rfm_timestamp_literal(row['read_at'])).columns[0].values()[0] -%}
    {%- if every_event > 0 -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set payments = none -%}
    {%- if traits | selectattr('includes_payments') | list -%}
        {%- set rescreens = load_relation(
            rfm_relation_beside('rescreens', ref('stg_billing__payments'))) -%}
        {%- if rescreens is none -%}
            {{- return(none) -}}
        {%- endif -%}
        {%- set payments = rfm_rescreens_since(rescreens, row['payments_rescreen']) -%}
        {%- if payments.every_row -%}
            {{- return(none) -}}
        {%- endif -%}
    {%- endif -%}
    {{- return({'state': row, 'payments': payments}) -}}
{%- endmacro %}
