{#- The relation that records the customer keys a period-keyed incremental model was built with
    (a copy of int_customer_keys: user_id, customer_key, first_payment_period), next to it.
    Absent when it was built with rfm_identity = 'user_id'. -#}
{% macro rfm_customer_keys_marker() -%}
    {{- return(this.incorporate(path={'identifier': this.identifier ~ '__customer_keys'})) -}}
{%- endmacro %}
