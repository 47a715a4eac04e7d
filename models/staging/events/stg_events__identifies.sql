{#-
    Every raw identify call, identifiers normalised as in stg_events__events (placeholders
    dropped), with the first rejection reason that applies (null when the row is clean):
    missing_occurred_at, missing_identifier (no user_id, anonymous_id or e-mail left),
    after_as_of (rfm_as_of). Identify calls carry no id of their own: no duplicate rule.
    Optional source: no rows when raw.identifies does not exist.

    Incremental (a table on Spark), as stg_events__events: a normal run screens again only the
    raw rows dated from rfm_rescreened_from() on and those without a date; the pre-hook deletes
    their stored rows first, or every stored row when the older raw rows changed in number or
    the placeholders it screens with changed (the marker <this>__screening_rules). Each run
    records what it screened again in the marker <this>__rescreens, which
    int_identity_observations reads to update only those identifier sets.
-#}
{{ config(
    enabled=rfm_events(),
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        rfm_lock_model(),
        "{{ rfm_delete_rescreened_rows(source('events', 'identifies'), 'occurred_at',
            rfm_screening_rules_changed(rfm_event_screening_rules(event_names=false)),
            record=true) }}",
    ],
    post_hook=[
        "{{ rfm_store_screening_rules(rfm_event_screening_rules(event_names=false)) }}",
        rfm_analyze(),
    ],
) }}
{{- rfm_check_raw_schema() }}
{%- set has_identifies = rfm_relation_exists(source('events', 'identifies')) %}

with

placeholders as (
    {{ rfm_identifier_placeholders() }}
),

{% if has_identifies -%}
source_identifies as (
    select * from {{ source('events', 'identifies') }}
    {{- rfm_raw_rows_to_screen('occurred_at') }}
),

renamed as (
    select
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        {{ rfm_identifier_normalised('user_id', 'user_id') }} as user_id,
        {{ rfm_identifier_normalised('anonymous_id', 'anonymous_id') }} as anonymous_id,
        {{ rfm_identifier_normalised('email', 'email') }} as email
    from source_identifies
),

{%- else -%}
renamed as (
    select
        cast(null as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(null as {{ rfm_type('text') }}) as user_id,
        cast(null as {{ rfm_type('text') }}) as anonymous_id,
        cast(null as {{ rfm_type('text') }}) as email
    where 1 = 0
),
{%- endif %}

without_placeholders as (
    {{ rfm_without_identifier_placeholders('renamed', ['occurred_at']) }}
),

screened as (
    select
        occurred_at,
        user_id,
        anonymous_id,
        email,
        case
            when occurred_at is null then 'missing_occurred_at'
            when user_id is null and anonymous_id is null and email is null
                then 'missing_identifier'
            when occurred_at >= {{ rfm_as_of() }} then 'after_as_of'
        end as rejection_reason
    from without_placeholders
)

select * from screened
