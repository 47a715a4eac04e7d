{#-
    Every raw event row, identifiers normalised (rfm_identifier_normalised; placeholders of the
    seed identity_placeholders dropped), with the first rejection reason that applies (null
    when the row is clean; docs/identity.md):
    missing_event_id, missing_occurred_at, unknown_event_name (seed identity_event_names),
    missing_identifier (no user_id, anonymous_id or e-mail left), after_as_of (rfm_as_of), and
    duplicate_event_id: among the rows that passed the others and share an event_id, the
    earliest is kept (then the smallest user_id, anonymous_id, e-mail in byte order).
    Optional source: no rows when raw.fact_events does not exist. Stored: the duplicate rule
    sorts the events, and the identity graph and events_rejected both read the result.

    Incremental (a table on Spark), as stg_billing__payments: a normal run screens again only
    the raw rows dated from rfm_rescreened_from() on and those without a date; the pre-hook
    deletes their stored rows first, or every stored row when the older raw rows changed in
    number, or the seeds it screens with changed (the marker <this>__screening_rules). A
    rescreened copy of an event_id that an older stored row keeps is a duplicate: that row is
    earlier. On PostgreSQL a partial unique index keeps event_id unique among the clean rows.
    Each run records what it screened again in the marker <this>__rescreens, which
    int_profile_events reads to update only those events.
-#}
{{ config(
    enabled=rfm_events(),
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        rfm_lock_model(),
        "{{ rfm_delete_rescreened_rows(source('events', 'fact_events'), 'occurred_at',
            rfm_screening_rules_changed(rfm_event_screening_rules()), record=true) }}",
    ],
    post_hook=[
        "{{ rfm_unique_clean_ids('event_id') }}",
        "{{ rfm_store_screening_rules(rfm_event_screening_rules()) }}",
        rfm_analyze(),
    ],
) }}
{{- rfm_check_raw_schema() }}
{%- set has_events = rfm_relation_exists(source('events', 'fact_events')) %}

with

event_names as (
    select event_name from {{ ref('identity_event_names') }}
),

placeholders as (
    {{ rfm_identifier_placeholders() }}
),

{% if has_events -%}
source_events as (
    select * from {{ source('events', 'fact_events') }}
    {{- rfm_raw_rows_to_screen('occurred_at') }}
),

renamed as (
    select
        trim(event_id) as event_id,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        trim(event_name) as event_name,
        {{ rfm_identifier_normalised('user_id', 'user_id') }} as user_id,
        {{ rfm_identifier_normalised('anonymous_id', 'anonymous_id') }} as anonymous_id,
        {{ rfm_identifier_normalised('email', 'email') }} as email,
        cast(revenue as {{ rfm_type('money') }}) as revenue,
        trim(product_id) as product_id
    from source_events
),

{%- else -%}
renamed as (
    select
        cast(null as {{ rfm_type('text') }}) as event_id,
        cast(null as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(null as {{ rfm_type('text') }}) as event_name,
        cast(null as {{ rfm_type('text') }}) as user_id,
        cast(null as {{ rfm_type('text') }}) as anonymous_id,
        cast(null as {{ rfm_type('text') }}) as email,
        cast(null as {{ rfm_type('money') }}) as revenue,
        cast(null as {{ rfm_type('text') }}) as product_id
    where 1 = 0
),
{%- endif %}

without_placeholders as (
    {{ rfm_without_identifier_placeholders(
        'renamed', ['event_id', 'occurred_at', 'event_name', 'revenue', 'product_id']) }}
),

row_checks as (
    select
        without_placeholders.event_id,
        without_placeholders.occurred_at,
        without_placeholders.event_name,
        without_placeholders.user_id,
        without_placeholders.anonymous_id,
        without_placeholders.email,
        without_placeholders.revenue,
        without_placeholders.product_id,
        case
            when without_placeholders.event_id is null or without_placeholders.event_id = ''
                then 'missing_event_id'
            when without_placeholders.occurred_at is null then 'missing_occurred_at'
            when event_names.event_name is null then 'unknown_event_name'
            when
                without_placeholders.user_id is null
                and without_placeholders.anonymous_id is null
                and without_placeholders.email is null
                then 'missing_identifier'
            when without_placeholders.occurred_at >= {{ rfm_as_of() }} then 'after_as_of'
        end as row_rejection_reason
    from without_placeholders
    left join event_names
        on without_placeholders.event_name = event_names.event_name
),

ranked_within_event_id as (
    select
        *,
        case
            when row_rejection_reason is null
                then row_number() over (
                        partition by {{ rfm_text_in_byte_order("event_id") }}, row_rejection_reason
                        order by
                            occurred_at,
                            {{ rfm_text_in_byte_order("coalesce(user_id, '')") }},
                            {{ rfm_text_in_byte_order("coalesce(anonymous_id, '')") }},
                            {{ rfm_text_in_byte_order("coalesce(email, '')") }}
                    )
        end as copy_rank
    from row_checks
),

{%- if is_incremental() %}

-- the rescreened event_ids that a stored (older) row keeps: duplicates
stored_clean_ids as (
    {{ rfm_stored_clean_ids('event_id', 'row_checks') }}
),
{%- endif %}

screened as (
    {{ rfm_screened_rows('ranked_within_event_id', 'event_id', [
        'event_id', 'occurred_at', 'event_name', 'user_id', 'anonymous_id', 'email', 'revenue',
        'product_id',
    ]) }}
)

select * from screened
