{#- Post-hook of rfm_segments_history: records this run's scoring methods in the marker
    (<this>__score_methods), in the model's transaction, for the next incremental run's
    rfm_check_stored_score_methods. Replaced whole: three rows. -#}
{% macro rfm_store_score_methods() -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set marker = rfm_relation_beside('score_methods') -%}
    {%- set methods = rfm_score_methods() -%}
    {%- set rows = [] -%}
    {%- for metric in ['recency', 'frequency', 'monetary'] -%}
        {%- do rows.append(
            'select ' ~ rfm_sql_string(metric) ~ ' as metric, '
            ~ rfm_sql_string(methods[metric]) ~ ' as score_method'
        ) -%}
    {%- endfor -%}
    {%- do run_query('drop table if exists ' ~ marker) -%}
    {%- do run_query('create table ' ~ marker ~ ' as ' ~ rows | join(' union all ')) -%}
    {{- return('') -}}
{%- endmacro %}
