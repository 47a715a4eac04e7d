{#- SQL: "order by <column>" at the end of a model stored by period (the history,
    int_user_features) on the engines that write rows in the order they are selected (PostgreSQL,
    DuckDB); nothing on Spark, whose tables are partitioned by that column (rfm_partition_by).
    The per-user windows return rows by user: stored in that order, every page of the table holds
    every period, so reading one period (rfm_segments_current, the marts of the latest period, the
    tests of the recomputed periods) reads the whole table, and the delete of the next
    incremental run dirties every page. The sort is a small share of the model, and its index
    builds faster from sorted rows. -#}
{% macro rfm_stored_in_order_of(column) -%}
    {%- if target.type != 'spark' %}
order by {{ column }}
    {%- endif -%}
{%- endmacro %}
