{#-
    Pre-hook of stg_billing__payments on an incremental run: delete the stored rows it screens
    again (rfm_rescreened_payment_rows), or every row, when the count of raw rows dated before
    rfm_payments_rescreened_from() differs from the stored one (late rows arrived, or rows were
    deleted), or when a stored row before that day was rejected as after_as_of (rfm_as_of
    moved on by more than the lookback). The model then selects what the table no longer
    holds, in the same transaction: the rescreened rows, or all of them. (The total amount is
    not compared: it would cost a scan on every run, for corrections that need a
    --full-refresh of the history anyway.) The counts are a select of their own, run when the
    hook is rendered: as subqueries of the delete PostgreSQL would run them without its
    parallel workers, on the critical path of every scheduled run.
-#}
{% macro rfm_delete_rescreened_payments() -%}
    {%- if is_incremental() -%}
        {%- set since = rfm_date_literal(rfm_payments_rescreened_from()) -%}
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
                from {{ source('billing', 'fact_payments') }}
                where payment_date < {{ since }}
            ) as raw_rows
            cross join (
                select
                    count(*) as row_count,
                    count(case when rejection_reason = 'after_as_of' then 1 end)
                        as after_as_of_rows
                from {{ this }}
                where payment_date < {{ since }}
            ) as stored_rows
        {%- endset -%}
        {%- set rescreen_every_row = run_query(count_query).columns[0].values()[0] == 1 %}
        delete from {{ this }}
        {%- if not rescreen_every_row %}
        where {{ rfm_rescreened_payment_rows() }}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}
