{#- The grants config of the reverse-ETL table: select to var reverse_etl_role when set. When
    it is not set, an empty list revokes what an earlier run granted, on engines that can list
    grants; DuckDB has no grants and Spark without Unity Catalog cannot show them: nothing. -#}
{% macro rfm_reverse_etl_grants() -%}
    {%- set role = rfm_reverse_etl_role() -%}
    {%- if role -%}
        {{- return({'select': [role]}) -}}
    {%- endif -%}
    {{- return({} if target.type in ['spark', 'duckdb'] else {'select': []}) -}}
{%- endmacro %}
