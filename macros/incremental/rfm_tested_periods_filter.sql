{#- SQL: "and <column> >= <first tested period>" when the tests are scoped, else nothing.
    history_ref: ref('rfm_segments_history'), passed in so that the test declares the ref;
    periods_before: check that many periods more (the labels of rfm_user_features change
    ltv_horizon_periods periods before the history's recomputed ones). -#}
{% macro rfm_tested_periods_filter(column, history_ref, periods_before=0) -%}
    {%- set start = rfm_tested_periods_start(history_ref) -%}
    {%- if start is not none and periods_before -%}
        {%- set start = rfm_shift_period(start, -periods_before) -%}
    {%- endif -%}
    {%- if start is not none %} and {{ column }} >= {{ rfm_date_literal(start) }}{% endif -%}
{%- endmacro %}
