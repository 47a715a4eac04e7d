-- Degenerate scores: every (period, metric, score) of the history that no user holds, or that
-- holds more than rfm_score_max_share of the period's users (a heavy tie under a rank method, a
-- bin of the thresholds method that the data never reaches or that takes nearly everyone).
-- A warning, naming them, so that an analyst learns about it from the build; docs/scores.md
-- says which method fits such data. A scheduled build checks the periods it recomputed.
{{ config(severity='warn') }}

{%- set max_share = rfm_score_max_share() -%}
{%- set history_ref = ref('rfm_segments_history') -%}

{% set degenerate_scores %}
with

history as (
    select
        snapshot_period,
        recency_score,
        frequency_score,
        monetary_score
    from {{ history_ref }}
    where true{{- rfm_tested_periods_filter('snapshot_period', history_ref) }}
),

scores as (
    {{ rfm_score_values() }}
),

metrics as (
    select 'recency' as metric
    union all
    select 'frequency'
    union all
    select 'monetary'
),

-- one pass over the history, grouped by its score triple (at most 125 groups per period),
-- then each small group counted once per metric: the rows are hashed once, not once per metric
score_triples as (
    select
        snapshot_period,
        recency_score,
        frequency_score,
        monetary_score,
        count(*) as users
    from history
    group by 1, 2, 3, 4
),

period_users as (
    select
        snapshot_period,
        sum(users) as users
    from score_triples
    group by 1
),

users_per_score as (
    select
        score_triples.snapshot_period,
        metrics.metric,
        case metrics.metric
            when 'recency' then score_triples.recency_score
            when 'frequency' then score_triples.frequency_score
            when 'monetary' then score_triples.monetary_score
        end as score,
        sum(score_triples.users) as users
    from score_triples
    cross join metrics
    group by 1, 2, 3
),

every_score as (
    select
        period_users.snapshot_period,
        metrics.metric,
        scores.score,
        period_users.users as period_users
    from period_users
    cross join metrics
    cross join scores
),

shares as (
    select
        every_score.snapshot_period,
        every_score.metric,
        every_score.score,
        coalesce(users_per_score.users, 0) as users,
        cast(coalesce(users_per_score.users, 0) as {{ rfm_type('double') }})
        / every_score.period_users as share_of_users
    from every_score
    left join users_per_score
        on
            every_score.snapshot_period = users_per_score.snapshot_period
            and every_score.metric = users_per_score.metric
            and every_score.score = users_per_score.score
)

select * from shares
where (users = 0 or share_of_users > {{ max_share }})
{% endset %}

{#- "Got N results" would not say which: the warning lists them, the latest period first (the
    first 100; --store-failures keeps every row). The query runs once: the test's own statement
    then returns the rows it found, as literals. -#}
{%- set found_rows = none -%}
{%- if execute and flags.WHICH in ['build', 'test'] and load_relation(history_ref) is not none -%}
    {%- set found_rows = run_query(
        degenerate_scores ~ ' order by snapshot_period desc, metric, score'
    ).rows -%}
    {%- set named = [] -%}
    {%- for row in found_rows[:100] -%}
        {%- do named.append(
            (row['snapshot_period'] | string) ~ ' ' ~ row['metric'] ~ ' score ' ~ row['score'] ~ ': '
            ~ ('empty' if row['users'] == 0
               else (row['users'] ~ ' users, ' ~ ((row['share_of_users'] * 100) | round(1)) ~ '%'))
        ) -%}
    {%- endfor -%}
    {%- if named -%}
        {%- do exceptions.warn(
            "rfm_segments_history: " ~ (found_rows | length) ~ " score(s) empty or holding more"
            ~ " than rfm_score_max_share=" ~ max_share ~ " of their period's users (docs/scores.md): "
            ~ (named | join('; ')) ~ ('; ...' if found_rows | length > 100 else '')
        ) -%}
    {%- endif -%}
{%- endif %}

{%- if found_rows is none %}
{{ degenerate_scores }}
{%- elif found_rows | length == 0 %}
{{ degenerate_scores }}
    and 1 = 0
{%- else %}
{%- for row in found_rows %}
select
    {{ rfm_date_literal(row['snapshot_period']) }} as snapshot_period,
    {{ rfm_sql_string(row['metric']) }} as metric,
    {{ row['score'] }} as score,
    {{ row['users'] }} as users,
    cast({{ row['share_of_users'] }} as {{ rfm_type('double') }}) as share_of_users
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
{%- endif %}
