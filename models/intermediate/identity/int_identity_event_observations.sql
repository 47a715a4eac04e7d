{#-
    The identifier sets of the clean events: one row per distinct (user_id, anonymous_id,
    email) of stg_events__events' clean rows, with the first and last instant it was seen.
    int_identity_observations adds the identify calls to these rows.

    Incremental (a table on Spark; rfm_event_observations_plan): a scheduled run reads only the
    events the staging screened again since this model's last run, those dated from a day D
    (stg_events__events__rescreens). The pre-hook (rfm_delete_reobserved_sets) recomputes the
    sets seen from D on - in those events, or in the stored rows, whose later events may be
    gone - and deletes their stored rows; the run inserts them again. Events before D are not
    screened again, so a set's stored first instant before D holds; a set that no longer has
    an event from D on but has earlier ones takes its last instant from those (a read of the
    staging for those sets only, when there are any). A first build, a --full-refresh or a
    staging run that screened every row reads every event.
-#}
{{ config(
    enabled=rfm_events(),
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[rfm_lock_model(), "{{ rfm_delete_reobserved_sets() }}"],
    post_hook=["{{ rfm_store_event_observations_state() }}", rfm_analyze()],
) }}
{%- set plan = rfm_event_observations_plan() %}
{%- if plan.every_event %}

with

clean_events as (
    select
        occurred_at,
        user_id,
        anonymous_id,
        email
    from {{ ref('stg_events__events') }}
    where rejection_reason is null
),

observations as (
    select
        user_id,
        anonymous_id,
        email,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from clean_events
    group by user_id, anonymous_id, email
)

select * from observations

{%- elif plan.rescreened_from is none %}

-- the staging screened nothing again since the last run: every stored set holds
select * from {{ this }}
where 1 = 0

{%- else %}

-- the sets seen from the rescreened day on, recomputed by the pre-hook
select
    reobserved.user_id,
    reobserved.anonymous_id,
    reobserved.email,
    reobserved.first_seen_at,
    coalesce(reobserved.last_seen_at, seen_before.last_seen_at) as last_seen_at
from {{ rfm_relation_beside('reobserved') }} as reobserved
left join {{ rfm_relation_beside('seen_before') }} as seen_before
    on {{ rfm_same_identifier_set('reobserved', 'seen_before') }}
where reobserved.first_seen_at is not null

{%- endif %}
