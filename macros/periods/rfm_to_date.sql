{#- Jinja: a python date from a date or an ISO 'YYYY-MM-DD' string (none stays none). -#}
{% macro rfm_to_date(value) -%}
    {%- if value is string -%}
        {{- return(modules.datetime.date.fromisoformat(value)) -}}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}
