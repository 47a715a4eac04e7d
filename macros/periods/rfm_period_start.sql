{#- SQL: the first day of the period containing the date/timestamp expression. -#}
{% macro rfm_period_start(expression) -%}
    cast({{ dbt.date_trunc(rfm_grain(), expression) }} as date)
{%- endmacro %}
