{#-
    The identify calls that link identifiers: identifiers normalised as in stg_events__events
    (placeholders dropped), the rows dated before rfm_as_of with at least one identifier left.
    Optional source: no rows when raw.identifies does not exist.
-#}
{{ config(enabled=rfm_events()) }}
{{- rfm_check_raw_schema() }}
{%- set has_identifies = rfm_relation_exists(source('events', 'identifies')) %}

with

placeholders as (
    {{ rfm_identifier_placeholders() }}
),

{% if has_identifies -%}
source_identifies as (
    select * from {{ source('events', 'identifies') }}
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

identifies as (
    select * from without_placeholders
    where
        occurred_at < {{ rfm_as_of() }}
        and (user_id is not null or anonymous_id is not null or email is not null)
)

select * from identifies
