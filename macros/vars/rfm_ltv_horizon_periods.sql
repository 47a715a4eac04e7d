{#- var ltv_horizon_periods (default 3): the label window of rfm_user_features in periods,
    validated (an integer >= 1). -#}
{% macro rfm_ltv_horizon_periods() -%}
    {%- set horizon = rfm_positive_int_var('ltv_horizon_periods', 3, 1) -%}
    {%- if horizon is none -%}
        {{ rfm_var_error('ltv_horizon_periods', 'null', 'expected an integer >= 1') }}
    {%- endif -%}
    {{- return(horizon) -}}
{%- endmacro %}
