{#-
    The latest period of the history, one row per user: what reverse ETL syncs to the CRM.
    With var reverse_etl_role set, that role may select this table (and use its schema), and
    nothing else of the project. See docs/reverse_etl.md for the columns a diff-based sync
    should compare.
    The lifetime-value prediction of `rfm ltv` (docs/ltv.md) is joined beside the segment:
    null before the first training run, or for users who arrived after it.
    The user's profile (identity_map) and its computed traits (profile_traits, one column per
    trait of the seed computed_traits) follow: null when the user has no profile, as when the
    event sources do not exist or rfm_events is false (the columns stay, for the CRM's mapping;
    docs/identity.md, "Computed traits").
-#}
-- depends_on: {{ ref('computed_traits') }}, {{ ref('identity_event_names') }}
{%- set reverse_etl_role = rfm_reverse_etl_role() -%}
{%- set traits = rfm_computed_traits() -%}
{%- set events = rfm_events() -%}
{{ config(
    grants=rfm_reverse_etl_grants(),
    post_hook=(
        ['grant usage on schema ' ~ adapter.quote(this.schema) ~ ' to ' ~ reverse_etl_role]
        if reverse_etl_role else []
    ),
) }}

with

history as (
    select * from {{ ref('rfm_segments_history') }}
),

-- from the table itself, not the CTE: a CTE read twice is materialized whole by PostgreSQL
latest_period as (
    select max(snapshot_period) as snapshot_period
    from {{ ref('rfm_segments_history') }}
),

ltv_predictions as (
    select * from {{ ref('stg_ml__ltv_predictions') }}
),

{%- if events %}

user_profiles as (
    {{ rfm_user_profiles() }}
),

profile_traits as (
    select * from {{ ref('profile_traits') }}
),
{%- endif %}

current_segments as (
    select history.*
    from history
    inner join latest_period
        on history.snapshot_period = latest_period.snapshot_period
),

final as (
    select
        current_segments.*,
        ltv_predictions.predicted_revenue as predicted_ltv,
        ltv_predictions.predicted_payments,
        ltv_predictions.ltv_model,
        ltv_predictions.as_of as ltv_as_of,
        {%- if events %}
        {%- for trait in traits %}
        profile_traits.{{ trait.trait_name }},
        {%- endfor %}
        -- every profile of identity_map has its row in profile_traits
        profile_traits.profile_id
        {%- else %}
        {%- for trait in traits %}
        cast(null as {{ trait.data_type }}) as {{ trait.trait_name }},
        {%- endfor %}
        cast(null as {{ rfm_type('text') }}) as profile_id
        {%- endif %}
    from current_segments
    left join ltv_predictions
        on current_segments.user_id = ltv_predictions.user_id
    {%- if events %}
    left join user_profiles
        on current_segments.user_id = user_profiles.user_id
    left join profile_traits
        on user_profiles.profile_id = profile_traits.profile_id
    {%- endif %}
)

select * from final
