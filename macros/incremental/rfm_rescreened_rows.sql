{#- SQL: the rows (raw or stored) that an incremental run of a screening staging model screens
    again - dated (`date_column`) from rfm_rescreened_from() on, or without a date. The one
    definition read by the pre-hook's delete and by the model's select. -#}
{% macro rfm_rescreened_rows(date_column) -%}
    (
        {{ date_column }} >= {{ rfm_date_literal(rfm_rescreened_from()) }}
        or {{ date_column }} is null
    )
{%- endmacro %}
