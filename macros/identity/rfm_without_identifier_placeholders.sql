{#- The body of a CTE `placeholders`: the values that mean "no identifier" (the seed
    identity_placeholders, and the word null, which a CSV cannot hold: dbt reads it as no
    value). -#}
{% macro rfm_identifier_placeholders() -%}
    select identifier_value from {{ ref('identity_placeholders') }}
    union all
    select 'null' as identifier_value
{%- endmacro %}


{#- SQL: the rows of `relation` (normalised by rfm_identifier_normalised) with `columns` and
    user_id, anonymous_id, email, each null when it is a placeholder (a CTE `placeholders` of
    rfm_identifier_placeholders must be in scope). -#}
{% macro rfm_without_identifier_placeholders(relation, columns) -%}
    select
        {%- for column in columns %}
        {{ relation }}.{{ column }},
        {%- endfor %}
        {%- for identifier in ['user_id', 'anonymous_id', 'email'] %}
        case
            when {{ identifier }}_placeholders.identifier_value is null
                then {{ relation }}.{{ identifier }}
        end as {{ identifier }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ relation }}
    {%- for identifier in ['user_id', 'anonymous_id', 'email'] %}
    left join placeholders as {{ identifier }}_placeholders
        on lower({{ relation }}.{{ identifier }}) = {{ identifier }}_placeholders.identifier_value
    {%- endfor %}
{%- endmacro %}
