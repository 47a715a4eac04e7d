{#- SQL: the profile of each user_id that has one (identity_map), as (user_id, profile_id). -#}
{% macro rfm_user_profiles() -%}
    select
        identifier_value as user_id,
        profile_id
    from {{ ref('identity_map') }}
    where identifier_type = 'user_id' and profile_id is not null
{%- endmacro %}
