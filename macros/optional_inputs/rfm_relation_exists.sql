{#- Jinja: true when the relation (a source() or ref()) exists in the warehouse; false while
    dbt parses (nothing is read then). -#}
{% macro rfm_relation_exists(relation) -%}
    {%- if not execute -%}
        {{- return(false) -}}
    {%- endif -%}
    {{- return(load_relation(relation) is not none) -}}
{%- endmacro %}
