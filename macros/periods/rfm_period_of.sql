{#- Jinja: the first day (python date) of the period containing a python date or datetime. -#}
{% macro rfm_period_of(value) -%}
    {%- set day = modules.datetime.date(value.year, value.month, value.day) -%}
    {%- if rfm_grain() == 'month' -%}
        {{- return(day.replace(day=1)) -}}
    {%- endif -%}
    {{- return(day - modules.datetime.timedelta(days=day.weekday())) -}}
{%- endmacro %}
