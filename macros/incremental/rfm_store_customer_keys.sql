{#- Post-hook of the period-keyed incremental models: records this run's customer keys
    (int_customer_keys) in the model's marker (<this>__customer_keys), in the model's
    transaction, for the next run's rfm_customer_keys_changed_from; drops the marker with
    rfm_identity = 'user_id'. Runs after the fold's steps, which read the previous keys. -#}
{% macro rfm_store_customer_keys() -%}
    {%- if not execute or this is string or config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set marker = rfm_relation_beside('customer_keys') -%}
    {%- if rfm_identity() == 'profile' -%}
        {%- do run_query('drop table if exists ' ~ marker) -%}
        {%- do run_query(
            'create table ' ~ marker ~ ' as select user_id, customer_key, first_payment_period from '
            ~ ref('int_customer_keys')
        ) -%}
    {%- elif load_relation(marker) is not none -%}
        {%- do run_query('drop table ' ~ marker) -%}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}
