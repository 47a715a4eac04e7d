{#- SQL: create a working table from a select, as plain parquet on Spark (like the models,
    dbt_project.yml) and in the engine's default format elsewhere. -#}
{% macro rfm_create_table_as(relation, select_sql) -%}
    {{ return(adapter.dispatch('rfm_create_table_as', 'rfm_segmentation')(relation, select_sql)) }}
{%- endmacro %}

{% macro default__rfm_create_table_as(relation, select_sql) -%}
    create table {{ relation }} as {{ select_sql }}
{%- endmacro %}

{% macro spark__rfm_create_table_as(relation, select_sql) -%}
    create table {{ relation }} using parquet as {{ select_sql }}
{%- endmacro %}
