{#- Compare/sort text by code point (byte order in UTF-8), whatever the database's locale:
    the duplicate tie-break "smallest user_id" must not depend on the server's collation. -#}
{% macro rfm_text_in_byte_order(expression) -%}
    {{ return(adapter.dispatch('rfm_text_in_byte_order', 'rfm_segmentation')(expression)) }}
{%- endmacro %}

{% macro default__rfm_text_in_byte_order(expression) -%}
    {{ expression }}
{%- endmacro %}

{% macro postgres__rfm_text_in_byte_order(expression) -%}
    {{ expression }} collate "C"
{%- endmacro %}
