{#-
    The identifier sets the events and identify calls were seen with: one row per distinct
    (user_id, anonymous_id, email) of the clean events and identify calls, with the first and
    last instant it was seen. Every link of the identity graph comes from one of these rows.

    Incremental (a table on Spark; rfm_observations_plan): a scheduled run reads only the rows
    its two stagings screened again since its last run, those dated from a day D (their
    markers <staging>__rescreens). The pre-hook (rfm_delete_reobserved_sets) recomputes the
    sets seen from D on - in those rows, or in the stored ones, whose later rows may be gone -
    and deletes their stored rows; the run inserts them again. Rows before D are not screened
    again, so a set's stored first instant before D holds; a set that no longer has a row from
    D on but has earlier ones takes its last instant from those (read from the stagings for
    those sets only, when there are any). A first build, a --full-refresh or a staging run
    that screened every row reads every row.
-#}
{{ config(
    enabled=rfm_events(),
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[rfm_lock_model(), "{{ rfm_delete_reobserved_sets() }}"],
    post_hook=["{{ rfm_store_observations_state() }}", rfm_analyze()],
) }}
{%- set plan = rfm_observations_plan() %}
{%- if plan.every_row %}

with

observed as (
    {{- rfm_observed_rows() }}
),

observations as (
    select
        user_id,
        anonymous_id,
        email,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from observed
    group by user_id, anonymous_id, email
)

select * from observations

{%- elif plan.rescreened_from is none %}

-- the stagings screened nothing again since the last run: every stored set holds
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
