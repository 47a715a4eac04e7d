{% macro rfm_lookback_periods() -%}
    {{- return(rfm_positive_int_var('rfm_lookback_periods', 1, 0)) -}}
{%- endmacro %}
