{#- Jinja: the period start n periods after a period start (n may be negative). -#}
{% macro rfm_shift_period(period_start, n) -%}
    {%- if rfm_grain() == 'month' -%}
        {%- set months = period_start.year * 12 + period_start.month - 1 + n -%}
        {{- return(modules.datetime.date(months // 12, months % 12 + 1, 1)) -}}
    {%- endif -%}
    {{- return(period_start + modules.datetime.timedelta(weeks=n)) -}}
{%- endmacro %}
