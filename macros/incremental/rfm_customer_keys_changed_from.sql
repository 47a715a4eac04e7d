{#-
    The first period (python date) whose stored rows were built with other customer keys than
    this run's, or none: the smallest first_payment_period of a user_id whose customer differs
    between the keys the model was stored with (<this>__customer_keys) and this run's
    (int_customer_keys, none with rfm_identity = 'user_id'). Before that period, no payment of
    such a user_id was counted, so the stored rows there hold under either keys; from it on,
    an incremental run recomputes (rfm_incremental_bounds). A merge, a split or a change of
    rfm_identity all show here. Costs nothing when neither relation exists.
-#}
{% macro rfm_customer_keys_changed_from() -%}
    {#- a dbt unit test's `this` is its fixture (a string of SQL) -#}
    {%- if not execute or this is string -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set stored = load_relation(rfm_relation_beside('customer_keys')) -%}
    {%- set current = none -%}
    {%- if rfm_identity() == 'profile' -%}
        {%- set current = load_relation(ref('int_customer_keys')) -%}
    {%- endif -%}
    {%- if stored is none and current is none -%}
        {{- return(none) -}}
    {%- elif stored is none or current is none -%}
        {%- set query = 'select min(first_payment_period) from ' ~ (stored or current) -%}
    {%- else -%}
        {%- set query -%}
            select min(coalesce(current_keys.first_payment_period, stored_keys.first_payment_period))
            from {{ current }} as current_keys
            full outer join {{ stored }} as stored_keys
                on current_keys.user_id = stored_keys.user_id
                and current_keys.customer_key = stored_keys.customer_key
            where current_keys.user_id is null or stored_keys.user_id is null
        {%- endset -%}
    {%- endif -%}
    {{- return(run_query(query).columns[0].values()[0]) -}}
{%- endmacro %}
