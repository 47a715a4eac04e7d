{#- Jinja: every period (python dates) from the period of `first_at` to the period of
    rfm_as_of, keeping only periods that start before rfm_as_of (docs/contract.md, "Snapshots"). -#}
{% macro rfm_expected_periods(first_at) -%}
    {%- set as_of = rfm_as_of_datetime() -%}
    {%- set first = rfm_period_of(first_at) -%}
    {%- set last = rfm_period_of(as_of) -%}
    {%- if rfm_grain() == 'month' -%}
        {%- set count = (last.year * 12 + last.month) - (first.year * 12 + first.month) + 1 -%}
    {%- else -%}
        {%- set count = ((last - first).days // 7) + 1 -%}
    {%- endif -%}
    {%- set periods = [] -%}
    {%- for n in range(count) -%}
        {%- set period = rfm_shift_period(first, n) -%}
        {%- if modules.datetime.datetime(period.year, period.month, period.day) < as_of -%}
            {%- do periods.append(period) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(periods) -}}
{%- endmacro %}
