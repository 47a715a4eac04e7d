{#- Post-hook of a screening staging model (stg_billing__payments: payment_id,
    stg_events__events: event_id): on PostgreSQL, a partial unique index on `id_column` over
    the clean rows, created when the table has none (it was just built). It stands in for a
    uniqueness scan of the whole table on every run: an incremental run checks only the rows
    it inserts, and the key test (unique_or_indexed) checks that the index exists; the model's
    lookup of the stored clean ids reads it too. The name carries the build's time, as dbt's
    own indexes do: a rebuilt table is swapped in while the old one and its index still
    exist. -#}
{% macro rfm_unique_clean_ids(id_column) -%}
    {{ return(adapter.dispatch('rfm_unique_clean_ids', 'rfm_segmentation')(id_column)) }}
{%- endmacro %}

{% macro default__rfm_unique_clean_ids(id_column) -%}
{%- endmacro %}

{% macro postgres__rfm_unique_clean_ids(id_column) -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set prefix = this.identifier ~ '_clean_' ~ id_column ~ '_' -%}
    {%- set existing = run_query(
        "select count(*) from pg_indexes where schemaname = '" ~ this.schema
        ~ "' and tablename = '" ~ this.identifier ~ "' and indexname like '" ~ prefix ~ "%'"
    ).columns[0].values()[0] -%}
    {%- if existing == 0 -%}
        create unique index "{{ prefix ~ run_started_at.strftime('%Y%m%d%H%M%S%f') }}"
        on {{ this }} ({{ id_column }}) where rejection_reason is null
    {%- endif -%}
{%- endmacro %}
