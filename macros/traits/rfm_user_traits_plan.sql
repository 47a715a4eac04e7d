{#-
    What an incremental run of rfm_user_traits recomputes (a dict), read the same way by its
    select and its pre-hook:
    - every_row: a first build, a --full-refresh, a missing marker, a changed seed
      computed_traits (the marker <this>__trait_definitions), a run of int_profile_events that
      recomputed every event, or (with a trait that includes payments) a run of the payments'
      staging that screened every row, since this model's last run;
    - otherwise read_at (when this model last read its inputs) and payments_from: with a trait
      that includes payments, the first day the payments' staging screened again since
      read_at (none when it did not run, or no trait includes payments). The rows are those of
      rfm_recomputed_user_rows, with either rfm_identity: a row's traits are those of its
      key's profile before its snapshot_at, whatever the key, and a merge that changes the
      history's customer keys leaves rows only stored (deleted) and rows only in the history
      (new).
-#}
{% macro rfm_user_traits_plan(traits) -%}
    {%- set every_row = {'every_row': true} -%}
    {%- if not execute or not is_incremental() -%}
        {{- return(every_row) -}}
    {%- endif -%}
    {%- set reader = rfm_queue_reader_plan(traits, 'read_at, payments_rescreen') -%}
    {%- if reader is none -%}
        {{- return(every_row) -}}
    {%- endif -%}
    {%- set read_at = reader.state['read_at'] -%}
    {%- set payments_from = reader.payments.rescreened_from if reader.payments else none -%}
    {{- return({'every_row': false, 'read_at': read_at, 'payments_from': payments_from}) -}}
{%- endmacro %}


{#- SQL: the keys (snapshot_period, user_id) an incremental run of rfm_user_traits recomputes
    (rfm_user_traits_plan, not every_row). A row's value follows from its history row
    (snapshot_at), its user's profile, the profile's events and payments before snapshot_at
    and the seed. So, among the stored rows and the history's rows of users with a profile:
    - the rows whose (snapshot_at, profile_id) differ from the stored ones, new or gone: a new
      period or user, the open period's snapshot moving, a user that changed profile;
    - the rows of a profile int_profile_events queued whose snapshot_at follows the first
      instant its events changed (every row of a profile that gained or lost an identifier,
      and with it user_ids' payments);
    - with payments_from, every row whose snapshot_at follows it: a payment there may have
      changed.
    A key only stored is deleted; a key only in the history is new. -#}
{% macro rfm_recomputed_user_rows(plan) -%}
with

queued as (
    select
        profile_id,
        -- null (from the start) when any of its entries is
        case when count(changed_from) = count(*) then min(changed_from) end as changed_from
    from {{ rfm_relation_beside('changed_profiles', ref('int_profile_events')) }}
    where profile_id is not null and changed_at > {{ rfm_timestamp_literal(plan.read_at) }}
    group by profile_id
),

current_rows as (
    select
        history.snapshot_period,
        history.user_id,
        history.snapshot_at,
        user_profiles.profile_id
    from {{ ref('rfm_segments_history') }} as history
    inner join ({{ rfm_user_profiles() }}) as user_profiles
        on history.user_id = user_profiles.user_id
),

stored_rows as (
    select snapshot_period, user_id, snapshot_at, profile_id from {{ this }}
),

-- one pass over both, joined by key: a key on one side only is new or gone
rows_by_key as (
    select
        coalesce(current_rows.snapshot_period, stored_rows.snapshot_period) as snapshot_period,
        coalesce(current_rows.user_id, stored_rows.user_id) as user_id,
        current_rows.user_id is null
        or stored_rows.user_id is null
        or current_rows.snapshot_at <> stored_rows.snapshot_at
        or current_rows.profile_id <> stored_rows.profile_id as is_changed,
        coalesce(current_rows.snapshot_at, stored_rows.snapshot_at) as snapshot_at,
        current_rows.profile_id as current_profile_id,
        stored_rows.profile_id as stored_profile_id
    from current_rows
    full outer join stored_rows
        on
            current_rows.snapshot_period = stored_rows.snapshot_period
            and current_rows.user_id = stored_rows.user_id
)

select
    rows_by_key.snapshot_period,
    rows_by_key.user_id
from rows_by_key
left join queued as current_queued on rows_by_key.current_profile_id = current_queued.profile_id
left join queued as stored_queued on rows_by_key.stored_profile_id = stored_queued.profile_id
where
    rows_by_key.is_changed
    {%- for queued in ['current_queued', 'stored_queued'] %}
    or (
        {{ queued }}.profile_id is not null
        and (
            {{ queued }}.changed_from is null
            or rows_by_key.snapshot_at > {{ queued }}.changed_from
        )
    )
    {%- endfor %}
    {%- if plan.payments_from is not none %}
    or rows_by_key.snapshot_at > {{ rfm_date_literal(plan.payments_from) }}
    {%- endif %}
{%- endmacro %}


{#- Pre-hook of rfm_user_traits (rfm_user_traits_plan): on an incremental run, writes the
    working table <this>__recomputed (rfm_recomputed_user_rows) and deletes those rows; or
    deletes every row. In the model's transaction. -#}
{% macro rfm_delete_recomputed_user_rows(traits) -%}
    {%- if not execute or not is_incremental() -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set plan = rfm_user_traits_plan(traits) -%}
    {%- if plan.every_row %}
        delete from {{ this }}
    {%- else -%}
        {%- set recomputed = rfm_relation_beside('recomputed') -%}
        {%- do rfm_create_analyzed_table(recomputed, rfm_recomputed_user_rows(plan)) %}
        delete from {{ this }}
        where exists (
            select 1 from {{ recomputed }} as recomputed
            where
                recomputed.snapshot_period = {{ this }}.snapshot_period
                and recomputed.user_id = {{ this }}.user_id
        )
    {%- endif -%}
{%- endmacro %}


{#- SQL: the filter of rfm_user_traits' subjects to the recomputed rows (an incremental run). -#}
{% macro rfm_recomputed_user_rows_only(plan, history) -%}
    {%- if not plan.every_row %}
    inner join {{ rfm_relation_beside('recomputed') }} as recomputed
        on
            {{ history }}.snapshot_period = recomputed.snapshot_period
            and {{ history }}.user_id = recomputed.user_id
    {%- endif -%}
{%- endmacro %}


{#- Post-hook of rfm_user_traits: records what the next run reads from - the run's start and
    the payments' staging's last run (<this>__state), the seed's definitions
    (<this>__trait_definitions) -, empties int_profile_events' queue as far as its readers
    have read it, and drops the working table. Nothing where the model is a table (Spark). -#}
{% macro rfm_store_user_traits_state() -%}
    {%- if not execute or config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- do run_query('drop table if exists ' ~ rfm_relation_beside('recomputed')) -%}
    {%- do rfm_store_reader_state('select ' ~ rfm_run_started_at() ~ ' as read_at, '
        ~ rfm_last_rescreen(ref('stg_billing__payments')) ~ ' as payments_rescreen') -%}
    {%- do rfm_store_screening_rules(rfm_trait_definitions(), 'trait_definitions') -%}
    {%- do rfm_prune_changed_profiles() -%}
    {{- return('') -}}
{%- endmacro %}
