{#- Jinja: var segment_false_discovery_rate, the Benjamini-Hochberg level of segment_profiles'
    is_significant (default 0.05), as a number in (0, 1). -#}
{% macro segment_fdr_var() -%}
    {%- set value = var('segment_false_discovery_rate', 0.05) -%}
    {%- set text = value | string | trim -%}
    {%- if value is boolean or not modules.re.fullmatch('0?\\.[0-9]{1,6}', text) or (text | float) <= 0 -%}
        {{ rfm_var_error('segment_false_discovery_rate', value, "expected a number in (0, 1), e.g. 0.05") }}
    {%- endif -%}
    {{- return(text | float) -}}
{%- endmacro %}
