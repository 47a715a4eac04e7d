{#- The rejection reasons of docs/contract.md, in its order (those of stg_billing__payments). -#}
{% macro rfm_rejection_reasons() -%}
    {{ return([
        'missing_payment_id', 'missing_user_id', 'missing_payment_date', 'missing_payment_amount',
        'non_positive_amount', 'after_as_of', 'duplicate_payment_id',
    ]) }}
{%- endmacro %}
