{#- The incremental strategy of the period-keyed marts: delete+insert of the recomputed periods
    where the engine has it; on Spark (parquet, no Delta) the tables are partitioned by period
    and insert_overwrite replaces the recomputed periods' partitions. -#}
{% macro rfm_incremental_strategy() -%}
    {{- return('insert_overwrite' if target.type == 'spark' else 'delete+insert') -}}
{%- endmacro %}
