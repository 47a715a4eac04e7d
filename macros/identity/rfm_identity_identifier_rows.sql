{#- SQL: every identifier of each row of int_identity_observations, one row per (row, identifier
    type): identifier_type, type_priority (the order that names profiles: user_id, email,
    anonymous_id), identifier_value, the row's user_id and when the row was first and last
    seen. -#}
{% macro rfm_identity_identifier_rows() -%}
    {%- for identifier_type in ['user_id', 'email', 'anonymous_id'] %}
    select
        cast('{{ identifier_type }}' as {{ rfm_type('text') }}) as identifier_type,
        {{ loop.index }} as type_priority,
        {{ identifier_type }} as identifier_value,
        user_id as linked_user_id,
        first_seen_at,
        last_seen_at
    from {{ ref('int_identity_observations') }}
    where {{ identifier_type }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
