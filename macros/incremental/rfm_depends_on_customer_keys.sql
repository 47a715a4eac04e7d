{#- SQL comment: declares int_customer_keys as a parent of a period-keyed incremental model when
    rfm_identity = 'profile', so that its hooks may compare the keys (rfm_customer_keys_changed_from);
    nothing with 'user_id', where that model is not built. -#}
{% macro rfm_depends_on_customer_keys() -%}
    {%- if rfm_identity() == 'profile' -%}
        -- depends_on: {{ ref('int_customer_keys') }}
    {%- endif -%}
{%- endmacro %}
