{#- A SQL string literal of any value (quotes doubled): for values analysts pass as vars. -#}
{% macro rfm_sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
