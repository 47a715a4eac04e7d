{% macro rfm_window_periods() -%}
    {{- return(rfm_positive_int_var('rfm_window_periods', none, 1)) -}}
{%- endmacro %}
