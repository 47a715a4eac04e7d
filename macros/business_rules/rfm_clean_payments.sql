{#- SQL: the clean payments (user_id, payment_date, payment_amount) of stg_billing__payments,
    only those on or after `since` (a python date) when it is set: what the history and
    int_user_features read, on a full build (since none) and on an incremental run. -#}
{% macro rfm_clean_payments(since=none) -%}
    select
        user_id,
        payment_date,
        payment_amount
    from {{ ref('stg_billing__payments') }}
    where rejection_reason is null
    {%- if since %}
        and payment_date >= {{ rfm_date_literal(since) }}
    {%- endif %}
{%- endmacro %}
