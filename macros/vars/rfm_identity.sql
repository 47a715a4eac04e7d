{#- Var rfm_identity: who a customer is. `user_id` (default): every user_id is a customer.
    `profile`: the user_ids of one profile of the identity graph are one customer, keyed by the
    profile's smallest user_id (int_customer_keys, docs/identity.md). -#}
{% macro rfm_identity() -%}
    {%- set identity = var('rfm_identity', 'user_id') -%}
    {%- if identity not in ['user_id', 'profile'] -%}
        {{ rfm_var_error('rfm_identity', identity, "allowed values are 'user_id' (every user_id is a customer) and 'profile' (the user_ids of one identity profile are one customer)") }}
    {%- endif -%}
    {{- return(identity) -}}
{%- endmacro %}
