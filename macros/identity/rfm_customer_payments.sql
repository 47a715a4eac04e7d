{#- SQL: the clean payments (rfm_clean_payments) with user_id as their customer: the user_id
    itself, or with rfm_identity = 'profile' the smallest user_id of its profile
    (int_customer_keys). What the history's aggregation reads. -#}
{% macro rfm_customer_payments(since=none) -%}
    {%- if rfm_identity() == 'profile' %}
    select
        coalesce(customer_keys.customer_key, payments.user_id) as user_id,
        payments.payment_date,
        payments.payment_amount
    from ({{ rfm_clean_payments(since=since) }}) as payments
    left join {{ ref('int_customer_keys') }} as customer_keys
        on payments.user_id = customer_keys.user_id
    {%- else %}
    {{ rfm_clean_payments(since=since) }}
    {%- endif %}
{%- endmacro %}
