{#- What an incremental reader of a screening staging model (`staging`, a ref()) reads again,
    from the staging's marker <staging>__rescreens and the reader's own record of the last
    run it read (<this>__<read_marker>, rfm_store_rescreens_read): a dict of every_row (a
    first build, a --full-refresh, a missing marker or record, or a staging run since that
    screened every row) and rescreened_from (the first day screened again since; none when the
    staging did not run). -#}
{% macro rfm_staging_reader_plan(staging, read_marker='rescreens_read') -%}
    {%- set every_row = {'every_row': true, 'rescreened_from': none} -%}
    {%- if not execute or not is_incremental() -%}
        {{- return(every_row) -}}
    {%- endif -%}
    {%- set rescreens = load_relation(rfm_relation_beside('rescreens', staging)) -%}
    {%- set rescreens_read = load_relation(rfm_relation_beside(read_marker)) -%}
    {%- if rescreens is none or rescreens_read is none -%}
        {{- return(every_row) -}}
    {%- endif -%}
    {%- set last_read = run_query(
        'select max(rescreen_number) from ' ~ rescreens_read).columns[0].values()[0] -%}
    {%- set since = rfm_rescreens_since(rescreens, last_read if last_read is not none else 0) -%}
    {{- return({'every_row': since.every_row, 'rescreened_from': since.rescreened_from}) -}}
{%- endmacro %}


{#- Records in <this>__<read_marker> the last run of the screening staging model `staging`
    that this run read, for the next run's rfm_staging_reader_plan. -#}
{% macro rfm_store_rescreens_read(staging, read_marker='rescreens_read') -%}
    {%- set rescreens_read = rfm_relation_beside(read_marker) -%}
    {%- do run_query('drop table if exists ' ~ rescreens_read) -%}
    {%- do run_query('create table ' ~ rescreens_read ~ ' as select '
        ~ rfm_last_rescreen(staging) ~ ' as rescreen_number') -%}
{%- endmacro %}
