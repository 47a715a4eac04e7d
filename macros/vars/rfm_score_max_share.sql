{#- Jinja: var rfm_score_max_share (default 0.5), the share of a period's users above which
    the warning test warn_degenerate_scores names a score, as a number in (0, 1]. -#}
{% macro rfm_score_max_share() -%}
    {%- set value = var('rfm_score_max_share', 0.5) -%}
    {%- set text = value | string | trim -%}
    {%- if value is boolean
        or not modules.re.fullmatch('0?\\.[0-9]{1,6}|1(\\.0{1,6})?', text)
        or (text | float) <= 0 -%}
        {{ rfm_var_error('rfm_score_max_share', value, "expected a number in (0, 1], e.g. 0.5") }}
    {%- endif -%}
    {{- return(text | float) -}}
{%- endmacro %}
