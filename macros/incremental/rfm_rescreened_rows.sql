{#- SQL: the rows (raw or stored) that an incremental run of a screening staging model screens
    again - dated (`date_column`) from rfm_rescreened_from() on, or without a date. The one
    definition read by the pre-hook's delete and by the model's select. -#}
{% macro rfm_rescreened_rows(date_column) -%}
    (
        {{ date_column }} >= {{ rfm_date_literal(rfm_rescreened_from()) }}
        or {{ date_column }} is null
    )
{%- endmacro %}


{#- SQL: the where clause of a screening staging model's raw rows (nothing on a first build, a
    --full-refresh or Spark): on an incremental run, the raw rows whose stored rows the
    pre-hook (rfm_delete_rescreened_rows) deleted - the rescreened ones, or every row when
    no stored row is left before rfm_rescreened_from() (a full rescreen). -#}
{% macro rfm_raw_rows_to_screen(date_column) -%}
    {%- if is_incremental() %}
    -- what the pre-hook deleted: the rescreened rows, or every row
    where
        {{ rfm_rescreened_rows(date_column) }}
        or not exists (
            select 1 from {{ this }}
            where {{ date_column }} < {{ rfm_date_literal(rfm_rescreened_from()) }}
        )
    {%- endif %}
{%- endmacro %}
