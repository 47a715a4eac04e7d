{#-
    Optional source: when raw.dim_users does not exist, an empty result with the same columns.
-#}
{{- rfm_check_raw_schema() }}
{%- set has_users = rfm_relation_exists(source('enrichment', 'dim_users')) %}

with

{% if has_users -%}
source_users as (
    select * from {{ source('enrichment', 'dim_users') }}
),

renamed as (
    select
        trim(user_id) as user_id,
        trim(country) as country,
        trim(acquisition_channel) as acquisition_channel,
        cast(signup_date as date) as signup_date,
        trim(age_band) as age_band
    from source_users
    where user_id is not null and trim(user_id) <> ''
),

{%- else -%}
renamed as (
    select
        cast(null as {{ rfm_type('text') }}) as user_id,
        cast(null as {{ rfm_type('text') }}) as country,
        cast(null as {{ rfm_type('text') }}) as acquisition_channel,
        cast(null as date) as signup_date,
        cast(null as {{ rfm_type('text') }}) as age_band
    where 1 = 0
),
{%- endif %}

ranked as (
    select
        *,
        row_number() over (partition by user_id order by signup_date) as copy_rank
    from renamed
),

users as (
    select
        user_id,
        country,
        acquisition_channel,
        signup_date,
        age_band
    from ranked
    where copy_rank = 1
)

select * from users
