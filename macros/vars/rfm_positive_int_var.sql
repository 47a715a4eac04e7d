{% macro rfm_positive_int_var(name, default, minimum) -%}
    {%- set value = var(name, default) -%}
    {%- if value is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- if value is boolean or not modules.re.fullmatch('[0-9]{1,6}', text) or (text | int) < minimum -%}
        {{ rfm_var_error(name, value, "expected an integer >= " ~ minimum ~ (" or null" if default is none else "")) }}
    {%- endif -%}
    {{- return(text | int) -}}
{%- endmacro %}
