{#- partition_by config: the period column on Spark, none elsewhere. -#}
{% macro rfm_partition_by(column) -%}
    {{- return([column] if target.type == 'spark' else none) -}}
{%- endmacro %}
