{#-
    Pre-hook of a screening staging model (stg_billing__payments, stg_events__events) on an
    incremental run: delete the stored rows it screens again (rfm_rescreened_rows), or every
    row - a full rescreen - when
    - the count of raw rows dated before rfm_rescreened_from() differs from the stored one
      (late rows arrived, or rows were deleted),
    - a stored row before that day was rejected as after_as_of (rfm_as_of moved on by more than
      the lookback),
    - `rules_changed` (a select of one count, or none) counts more than zero: the model's
      screening rules changed since the stored rows were screened,
    - or the source does not exist (an optional source that was dropped: the model then holds
      no rows).
    With `record`, each run appends what it screened again to the marker <this>__rescreens
    (rfm_record_rescreen), for the incremental models that read the screened rows.
    The model then selects what the table no longer holds, in the same transaction: the
    rescreened rows, or all of them. (The raw rows' contents are not compared: it would cost a
    scan on every run, for corrections that need a --full-refresh anyway.) The counts are a
    select of their own, run when the hook is rendered: as subqueries of the delete PostgreSQL
    would run them without its parallel workers, on the critical path of every scheduled run.
-#}
{% macro rfm_delete_rescreened_rows(source_relation, date_column, rules_changed=none,
    record=false) -%}
    {%- if is_incremental() -%}
        {%- set since = rfm_date_literal(rfm_rescreened_from()) -%}
        {%- set rescreen_every_row = not rfm_relation_exists(source_relation) -%}
        {%- if not rescreen_every_row -%}
            {%- set count_query -%}
                select
                    case
                        when
                            raw_rows.row_count <> stored_rows.row_count
                            or stored_rows.after_as_of_rows > 0
                            then 1
                        else 0
                    end as rescreen_every_row
                from (
                    select count(*) as row_count
                    from {{ source_relation }}
                    where {{ date_column }} < {{ since }}
                ) as raw_rows
                cross join (
                    select
                        count(*) as row_count,
                        count(case when rejection_reason = 'after_as_of' then 1 end)
                            as after_as_of_rows
                    from {{ this }}
                    where {{ date_column }} < {{ since }}
                ) as stored_rows
            {%- endset -%}
            {%- set rescreen_every_row = run_query(count_query).columns[0].values()[0] == 1
                or (rules_changed is not none
                    and run_query(rules_changed).columns[0].values()[0] > 0) -%}
        {%- endif %}
        {%- if record -%}
            {%- do rfm_record_rescreen(none if rescreen_every_row else rfm_rescreened_from()) -%}
        {%- endif %}
        delete from {{ this }}
        {%- if not rescreen_every_row %}
        where {{ rfm_rescreened_rows(date_column) }}
        {%- endif %}
    {%- elif record -%}
        {#- a first build or a --full-refresh: every row is screened -#}
        {%- do rfm_record_rescreen(none) -%}
    {%- endif -%}
{%- endmacro %}
