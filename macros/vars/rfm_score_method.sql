{#- Jinja: the scoring method of one metric (recency, frequency or monetary), var
    rfm_<metric>_score_method: percent_rank (default), thresholds or mid_rank
    (docs/scores.md). -#}
{% macro rfm_score_method(metric) -%}
    {%- set name = 'rfm_' ~ metric ~ '_score_method' -%}
    {%- set value = var(name, 'percent_rank') -%}
    {%- if value not in ['percent_rank', 'thresholds', 'mid_rank'] -%}
        {{ rfm_var_error(name, value, "allowed values are 'percent_rank', 'thresholds' and 'mid_rank'") }}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}
