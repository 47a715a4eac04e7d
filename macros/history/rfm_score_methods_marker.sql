{#- The relation that records the scoring methods the stored history was built with (one row
    per metric: metric, score_method), next to the history. -#}
{% macro rfm_score_methods_marker() -%}
    {{- return(this.incorporate(path={'identifier': this.identifier ~ '__score_methods'})) -}}
{%- endmacro %}
