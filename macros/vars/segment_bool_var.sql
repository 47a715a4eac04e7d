{#- Jinja: a boolean var (true/false), validated like the run parameters. -#}
{% macro segment_bool_var(name, default) -%}
    {%- set value = var(name, default) -%}
    {%- if value is not boolean -%}
        {{ rfm_var_error(name, value, "expected true or false") }}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}
