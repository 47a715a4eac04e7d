{#- rfm_as_of as a SQL timestamp literal. -#}
{% macro rfm_as_of() -%}
    {{- rfm_timestamp_literal(rfm_as_of_datetime()) -}}
{%- endmacro %}
