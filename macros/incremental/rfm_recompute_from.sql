{#- The first period (python date) an incremental run of a period-keyed model recomputes, given
    its last stored period: rfm_lookback_periods before it, or the first period whose stored
    rows were built with other customer keys (rfm_customer_keys_changed_from) when that is
    earlier. -#}
{% macro rfm_recompute_from(last_stored_period) -%}
    {%- set recompute_from = rfm_shift_period(last_stored_period, -rfm_lookback_periods()) -%}
    {%- set keys_changed_from = rfm_customer_keys_changed_from() -%}
    {%- if keys_changed_from is not none and keys_changed_from < recompute_from -%}
        {%- set recompute_from = keys_changed_from -%}
    {%- endif -%}
    {{- return(recompute_from) -}}
{%- endmacro %}
