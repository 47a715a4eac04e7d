{#- Jinja: the scoring method of every metric, {'recency': ..., 'frequency': ...,
    'monetary': ...}, each validated by rfm_score_method. -#}
{% macro rfm_score_methods() -%}
    {%- set methods = {} -%}
    {%- for metric in ['recency', 'frequency', 'monetary'] -%}
        {%- do methods.update({metric: rfm_score_method(metric)}) -%}
    {%- endfor -%}
    {{- return(methods) -}}
{%- endmacro %}
