{#-
    The first period the data tests of the history and its marts check. A scheduled
    `dbt build` recomputes only the last rfm_lookback_periods + 1 periods, so its tests check
    those (older periods were tested when they were written and have not changed); a
    `--full-refresh` build and `dbt test` check every period. Returns a python date, or none
    for "every period".
-#}
{% macro rfm_tested_periods_start(history_ref) -%}
    {%- if not execute or flags.FULL_REFRESH or flags.WHICH != 'build' -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set history = load_relation(history_ref) -%}
    {%- if history is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set last_period = run_query(
        'select max(snapshot_period) from ' ~ history
    ).columns[0].values()[0] -%}
    {%- if last_period is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(rfm_shift_period(last_period, -rfm_lookback_periods())) -}}
{%- endmacro %}
