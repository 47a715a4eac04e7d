{#-
    The first day whose raw rows an incremental run of a screening staging model
    (stg_billing__payments, stg_events__events) screens again (a python date): the start of the
    period of rfm_as_of, rfm_lookback_periods periods back, so that late rows inside the
    lookback are screened without a full rescreen. It depends on the run's vars only, so the
    delete (pre-hook) and the select of the model agree.
-#}
{% macro rfm_rescreened_from() -%}
    {{- return(rfm_shift_period(rfm_period_of(rfm_as_of_datetime()), -rfm_lookback_periods())) -}}
{%- endmacro %}
