{#- For rfm_delete_rescreened_rows: appends one row to the marker <this>__rescreens of a screening
    staging model - rescreen_number (one more than the last; never reset, so that a reader
    that remembers the last number it read finds every later run) and rescreened_from (the
    first day whose rows this run screened again; null: every row). In the model's
    transaction. Nothing where the model is a table (Spark): its readers are tables there. -#}
{% macro rfm_record_rescreen(rescreened_from) -%}
    {%- if not execute or config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set marker = rfm_relation_beside('rescreens') -%}
    {%- if load_relation(marker) is none -%}
        {%- do run_query(
            'create table ' ~ marker ~ ' (rescreen_number ' ~ dbt.type_bigint()
            ~ ', rescreened_from date)'
        ) -%}
        {#- the models after this one in the run look it up in dbt's cache of relations -#}
        {%- do adapter.cache_added(marker) -%}
    {%- endif -%}
    {%- set since = 'cast(null as date)' if rescreened_from is none
        else rfm_date_literal(rescreened_from) -%}
    {%- do run_query(
        'insert into ' ~ marker ~ ' select coalesce(max(rescreen_number), 0) + 1, ' ~ since
        ~ ' from ' ~ marker
    ) -%}
    {{- return('') -}}
{%- endmacro %}
