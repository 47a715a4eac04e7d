{#-
    The identify calls that link identifiers: identifiers normalised as in stg_events__events
    (placeholders dropped), the rows dated before rfm_as_of with at least one identifier left.
    Optional source: no rows when raw.identifies does not exist.
-#}
{{- rfm_check_raw_schema() }}
{%- set has_identifies = rfm_relation_exists(source('events', 'identifies')) %}

with

placeholders as (
    select identifier_value from {{ ref('identity_placeholders') }}
    union all
    -- always a placeholder; not in the seed, as dbt reads the word null of a CSV as no value
    select 'null' as identifier_value
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
    select
        renamed.occurred_at,
        case when user_placeholders.identifier_value is null then renamed.user_id end as user_id,
        case
            when anonymous_placeholders.identifier_value is null then renamed.anonymous_id
        end as anonymous_id,
        case when email_placeholders.identifier_value is null then renamed.email end as email
    from renamed
    left join placeholders as user_placeholders
        on lower(renamed.user_id) = user_placeholders.identifier_value
    left join placeholders as anonymous_placeholders
        on lower(renamed.anonymous_id) = anonymous_placeholders.identifier_value
    left join placeholders as email_placeholders
        on renamed.email = email_placeholders.identifier_value
),

identifies as (
    select * from without_placeholders
    where
        occurred_at < {{ rfm_as_of() }}
        and (user_id is not null or anonymous_id is not null or email is not null)
)

select * from identifies
