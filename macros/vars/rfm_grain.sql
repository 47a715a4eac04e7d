{% macro rfm_grain() -%}
    {%- set grain = var('rfm_grain', 'month') -%}
    {%- if grain not in ['month', 'week'] -%}
        {{ rfm_var_error('rfm_grain', grain, "allowed values are 'month' and 'week' (ISO week, starting Monday)") }}
    {%- endif -%}
    {{- return(grain) -}}
{%- endmacro %}
