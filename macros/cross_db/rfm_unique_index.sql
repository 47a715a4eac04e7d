{#- The `indexes` config of a model keyed by `columns`: a unique index on PostgreSQL, which
    enforces the key at every insert and serves the folds' per-period reads (the key test,
    unique_combination_of_columns with indexed_on_postgres, checks that the index exists). None
    elsewhere, where the key test reads the table: DuckDB's unique index costs more than it
    serves, a commit that deletes and re-inserts the recomputed periods under it spending
    seconds per hundred thousand rows maintaining it, while the per-period reads use the
    table's zone maps (it is stored in period order). -#}
{% macro rfm_unique_index(columns) -%}
    {%- if target.type == 'postgres' -%}
        {{- return([{'columns': columns, 'unique': true}]) -}}
    {%- endif -%}
    {{- return([]) -}}
{%- endmacro %}
