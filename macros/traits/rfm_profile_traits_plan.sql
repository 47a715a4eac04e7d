{#-
    What an incremental run of profile_traits recomputes (a dict), read the same way by its
    select and its pre-hook:
    - every_profile: a first build, a --full-refresh, a changed seed computed_traits (the
      marker <this>__trait_definitions), a missing marker, an empty table, a run of
      int_profile_events that recomputed every event, or (with a trait that includes payments)
      a run of the payments' staging that screened every row, since this model's last run;
    - otherwise the profiles of rfm_recomputed_profiles: read_at (when this model last read
      its inputs: the start of that run), previous_cut (the stored snapshot_at) and
      payments_from (the first day the payments' staging screened again since then; none when
      it did not run, or when no trait includes payments).
-#}
{% macro rfm_profile_traits_plan(traits) -%}
    {%- set every_profile = {'every_profile': true} -%}
    {%- if not execute or not is_incremental() -%}
        {{- return(every_profile) -}}
    {%- endif -%}
    {%- set reader = rfm_queue_reader_plan(
        traits, 'read_at, payments_rescreen, payments_seen_from') -%}
    {%- set previous_cut = run_query(
        'select max(snapshot_at) from ' ~ this).columns[0].values()[0] -%}
    {%- if reader is none or previous_cut is none -%}
        {{- return(every_profile) -}}
    {%- endif -%}
    {%- set read_at = reader.state['read_at'] -%}
    {%- set payments_from = none -%}
    {%- if reader.payments -%}
        {%- set payments_from = reader.payments.rescreened_from -%}
        {%- if payments_from is not none and payments_from < reader.state['payments_seen_from'] -%}
            {#- rows before the payments it keeps a copy of may have changed -#}
            {{- return(every_profile) -}}
        {%- endif -%}
    {%- endif -%}
    {{- return({
        'every_profile': false, 'read_at': read_at, 'previous_cut': previous_cut,
        'payments_from': payments_from,
    }) -}}
{%- endmacro %}


{#- SQL: the seed computed_traits as (rule_kind, rule_value) rows - a trait's name and its
    definition - for the marker <profile_traits>__trait_definitions. -#}
{% macro rfm_trait_definitions() -%}
    {%- set text = rfm_type('text') -%}
    select
        trait_name as rule_kind,
        {{ dbt.concat([
            'trait_kind', "'|'", "coalesce(event_name, '')", "'|'", "coalesce(property, '')",
            "'|'", "coalesce(cast(window_days as " ~ text ~ "), '')", "'|'",
            "cast(includes_payments as " ~ text ~ ")",
        ]) }} as rule_value
    from {{ ref('computed_traits') }}
{%- endmacro %}


{#- SQL: the profiles an incremental run of profile_traits recomputes (rfm_profile_traits_plan,
    not every_profile): those int_profile_events queued since read_at (whose events changed,
    and both profiles of a reassigned identifier); when rfm_as_of moved, those with an event between the two cuts or between
    the two starts of a trait's window; and with a trait that includes payments, those with a
    payment between those bounds, or one that differs from the copy of the payments this
    model kept (<this>__payments_seen) from the first day the payments' staging screened
    again: a new, changed or deleted payment. -#}
{% macro rfm_recomputed_profiles(traits, plan) -%}
    {%- set cut = rfm_as_of_datetime() -%}
    {%- set low, high = [plan.previous_cut, cut] | min, [plan.previous_cut, cut] | max -%}
    {%- set ranges = [(low, high)] -%}
    {%- for days in traits | rejectattr('window_days', 'none') | map(attribute='window_days')
        | unique -%}
        {%- set shift = modules.datetime.timedelta(days=days) -%}
        {%- do ranges.append((low - shift, high - shift)) -%}
    {%- endfor -%}
    {%- set moved = plan.previous_cut != cut %}
    select profile_id from {{ rfm_relation_beside('changed_profiles', ref('int_profile_events')) }}
    where profile_id is not null and changed_at > {{ rfm_timestamp_literal(plan.read_at) }}
    {%- if moved %}
    union
    select profile_id from {{ ref('int_profile_events') }}
    where {{ rfm_in_ranges('occurred_at', ranges) }}
    {%- endif %}
    {%- if traits | selectattr('includes_payments') | list %}
    {%- if plan.payments_from is not none %}
    {%- set since = rfm_date_literal(plan.payments_from) %}
    {%- set current -%}
        select {{ rfm_profile_payment_columns() }} from {{ ref('int_profile_payments') }}
        where payment_date >= {{ since }}
    {%- endset %}
    {%- set seen -%}
        select {{ rfm_profile_payment_columns() }} from {{ rfm_relation_beside('payments_seen') }}
        where payment_date >= {{ since }}
    {%- endset %}
    union
    select profile_id from (
        ({{ current }} except all {{ seen }})
        union all
        ({{ seen }} except all {{ current }})
    ) as changed_payments
    {%- endif %}
    {%- if moved %}
    union
    select profile_id from {{ ref('int_profile_payments') }}
    where {{ rfm_in_ranges('payment_date', ranges) }}
    {%- endif %}
    {%- endif %}
{%- endmacro %}


{#- SQL: true when `column` falls in one of `ranges` (python (start, end) datetimes, the end
    left out). -#}
{% macro rfm_in_ranges(column, ranges) -%}
    (
        {%- for start, end in ranges %}
        {{ 'or ' if not loop.first }}({{ column }} >= {{ rfm_timestamp_literal(start) }}
            and {{ column }} < {{ rfm_timestamp_literal(end) }})
        {%- endfor %}
    )
{%- endmacro %}


{#- SQL: the filter of profile_traits' inputs to the profiles it recomputes (the working table
    <this>__recomputed, written by rfm_delete_recomputed_profiles); nothing when it recomputes
    every profile. -#}
{% macro rfm_recomputed_profiles_only(plan) -%}
    {%- if not plan.every_profile -%}
        where profile_id in (select profile_id from {{ rfm_relation_beside('recomputed') }})
    {%- endif -%}
{%- endmacro %}


{#- Pre-hook of profile_traits (rfm_profile_traits_plan): on an incremental run, writes the
    working table <this>__recomputed (rfm_recomputed_profiles), moves every stored row's
    snapshot_at to this run's rfm_as_of, and deletes the rows of the recomputed profiles; or
    deletes every row. In the model's transaction. -#}
{% macro rfm_delete_recomputed_profiles(traits) -%}
    {%- if not execute or not is_incremental() -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set plan = rfm_profile_traits_plan(traits) -%}
    {%- if plan.every_profile %}
        delete from {{ this }}
    {%- else -%}
        {%- set recomputed = rfm_relation_beside('recomputed') -%}
        {%- do run_query('drop table if exists ' ~ recomputed) -%}
        {%- do run_query('create table ' ~ recomputed ~ ' as '
            ~ rfm_recomputed_profiles(traits, plan)) -%}
        {%- if plan.previous_cut != rfm_as_of_datetime() -%}
            {%- do run_query('update ' ~ this ~ ' set snapshot_at = ' ~ rfm_as_of()) -%}
        {%- endif %}
        delete from {{ this }}
        where profile_id in (select profile_id from {{ recomputed }})
    {%- endif -%}
{%- endmacro %}


{#- Post-hook of profile_traits: records what the next run reads from - the run's start, the
    payments' staging's last run and the first day of the payments it keeps a copy of
    (<this>__state), that copy (<this>__payments_seen: the payments of profiles from the
    first day the staging screens again, rfm_rescreened_from), the seed's definitions
    (<this>__trait_definitions) - empties int_profile_events' queue as far as its readers
    have read it (rfm_prune_changed_profiles), and drops
    the working table. Nothing where the model is a table (Spark). -#}
{% macro rfm_store_profile_traits_state() -%}
    {%- if not execute or config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- do run_query('drop table if exists ' ~ rfm_relation_beside('recomputed')) -%}
    {%- set seen_from = rfm_date_literal(rfm_rescreened_from()) -%}
    {%- do rfm_store_reader_state('select ' ~ rfm_run_started_at()
        ~ ' as read_at, ' ~ rfm_last_rescreen(ref('stg_billing__payments'))
        ~ ' as payments_rescreen, ' ~ seen_from ~ ' as payments_seen_from') -%}
    {%- set payments_seen = rfm_relation_beside('payments_seen') -%}
    {%- do run_query('drop table if exists ' ~ payments_seen) -%}
    {%- do run_query('create table ' ~ payments_seen ~ ' as select '
        ~ rfm_profile_payment_columns() ~ ' from ' ~ ref('int_profile_payments')
        ~ ' where payment_date >= ' ~ seen_from) -%}
    {%- do rfm_store_screening_rules(rfm_trait_definitions(), 'trait_definitions') -%}
    {%- do rfm_prune_changed_profiles() -%}
    {{- return('') -}}
{%- endmacro %}


{#- SQL: the columns of an int_profile_payments row. -#}
{% macro rfm_profile_payment_columns() -%}
    profile_id, user_id, payment_date, payment_amount
{%- endmacro %}
