{% macro rfm_check_raw_schema() -%}
    {{- rfm_check_schema_var('raw_schema', 'raw') -}}
{%- endmacro %}
