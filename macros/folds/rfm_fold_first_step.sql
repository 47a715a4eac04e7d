{#- Jinja: the first step of a fold's run, as {'period', 'previous_period'} (python dates): the
    first recomputed period on an incremental run, else the period of the first clean payment
    (the period of rfm_as_of when there is none, or when int_payments_per_user_period is not
    built: the step then selects no row). On an incremental run, 'by_post_hook' is true: the
    post-hook stores that step too (rfm_fold_first_select). -#}
{% macro rfm_fold_first_step() -%}
    {%- set bounds = rfm_incremental_bounds() -%}
    {%- if bounds.recompute_from is not none -%}
        {{- return({
            'period': bounds.recompute_from,
            'previous_period': bounds.state_period,
            'by_post_hook': true,
        }) -}}
    {%- endif -%}
    {%- set first_period = none -%}
    {%- set aggregates = ref('int_payments_per_user_period') -%}
    {#- not built yet when only compiled (sqlfluff's dbt templater, `dbt compile`) -#}
    {%- if execute and load_relation(aggregates) is not none -%}
        {%- set first_period = run_query(
            'select min(period_start) from ' ~ aggregates
        ).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if first_period is none -%}
        {%- set first_period = rfm_period_of(rfm_as_of_datetime()) -%}
    {%- endif -%}
    {{- return({'period': first_period, 'previous_period': none}) -}}
{%- endmacro %}
