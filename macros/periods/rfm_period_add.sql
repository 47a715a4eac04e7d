{#- SQL: the start of the period n periods after the period-start expression, as a timestamp. -#}
{% macro rfm_period_add(period_start, n) -%}
    cast({{ dbt.dateadd(rfm_grain(), n, period_start) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}
