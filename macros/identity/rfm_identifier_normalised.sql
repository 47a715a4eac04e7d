{#- SQL: an identifier as the identity graph compares it: trimmed, e-mails lower-cased, blank
    as null. Placeholders (seed identity_placeholders) are dropped by the staging models. -#}
{% macro rfm_identifier_normalised(expression, identifier_type) -%}
    {%- if identifier_type == 'email' -%}
        nullif(lower(trim({{ expression }})), '')
    {%- else -%}
        nullif(trim({{ expression }}), '')
    {%- endif -%}
{%- endmacro %}
