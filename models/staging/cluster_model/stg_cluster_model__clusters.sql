{#-
    The latest version of cluster_model_clusters (written by `rfm clusters`); no rows (same
    columns) while the table does not exist.
-#}
{{- rfm_check_schema_var('cluster_model_schema', none) }}
{%- set model_table = source('cluster_model', 'cluster_model_clusters') %}

with

{% if rfm_relation_exists(model_table) -%}
source_rows as (
    select * from {{ model_table }}
),

latest_version as (
    select max(model_version) as model_version
    from source_rows
),

latest_rows as (
    select
        source_rows.model_version,
        source_rows.cluster_id,
        source_rows.cluster_name
    from source_rows
    inner join latest_version
        on source_rows.model_version = latest_version.model_version
)

{%- else -%}
latest_rows as (
    select
        cast(null as {{ dbt.type_int() }}) as model_version,
        cast(null as {{ dbt.type_int() }}) as cluster_id,
        cast(null as {{ rfm_type('text') }}) as cluster_name
    where 1 = 0
)
{%- endif %}

select * from latest_rows
