{#- SQL: the payment rows (raw or stored) that an incremental run of stg_billing__payments
    screens again - dated from rfm_payments_rescreened_from() on, or without a date. The one
    definition read by the pre-hook's delete and by the model's select. -#}
{% macro rfm_rescreened_payment_rows() -%}
    (
        payment_date >= {{ rfm_date_literal(rfm_payments_rescreened_from()) }}
        or payment_date is null
    )
{%- endmacro %}
