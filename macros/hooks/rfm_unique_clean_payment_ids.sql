{#- Post-hook of stg_billing__payments: on PostgreSQL, a partial unique index on payment_id over
    the clean rows, created when the table has none (it was just built). It stands in for a
    uniqueness scan of the whole table on every run: an incremental run checks only the rows
    it inserts, and the key test (unique_or_indexed) checks that the index exists. The name carries the build's time, as dbt's own indexes do: a rebuilt table is
    swapped in while the old one and its index still exist. -#}
{% macro rfm_unique_clean_payment_ids() -%}
    {{ return(adapter.dispatch('rfm_unique_clean_payment_ids', 'rfm_segmentation')()) }}
{%- endmacro %}

{% macro default__rfm_unique_clean_payment_ids() -%}
{%- endmacro %}

{% macro postgres__rfm_unique_clean_payment_ids() -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set prefix = this.identifier ~ '_clean_payment_id_' -%}
    {%- set existing = run_query(
        "select count(*) from pg_indexes where schemaname = '" ~ this.schema
        ~ "' and tablename = '" ~ this.identifier ~ "' and indexname like '" ~ prefix ~ "%'"
    ).columns[0].values()[0] -%}
    {%- if existing == 0 -%}
        create unique index "{{ prefix ~ run_started_at.strftime('%Y%m%d%H%M%S%f') }}"
        on {{ this }} (payment_id) where rejection_reason is null
    {%- endif -%}
{%- endmacro %}
