{#- SQL: the rows of int_payments_per_user_period of one period (a python date): what a fold's
    step reads of the payments, by the (period_start, user_id) index. -#}
{% macro rfm_period_payments(period, columns=['user_id', 'payments', 'amount']) -%}
    select {{ columns | join(', ') }}
    from {{ ref('int_payments_per_user_period') }}
    where period_start = {{ rfm_date_literal(period) }}
{%- endmacro %}
