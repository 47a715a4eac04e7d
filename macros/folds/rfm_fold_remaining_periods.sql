{#-
    Post-hook of a fold (rfm_segments_history, int_user_features): the steps after the first
    one, each from the rows the step before it stored, up to the period of rfm_as_of. `step` is
    the model's step macro, step(period, previous_period) -> SQL. The first step wrote period
    P0 = rfm_recompute_from(the last stored period) on an incremental run (the latest stored
    period is unchanged), or the only stored period on a full build: this hook recomputes every
    period from rfm_recompute_from(the latest stored period) plus one. On a full build with a
    lookback that recomputes P0 (and periods before it, which have no user) once more: a step
    of the first period's few users, and the same rows.
-#}
{% macro rfm_fold_remaining_periods(step) -%}
    {%- if not execute or target.type == 'spark' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set last_stored = run_query(
        'select max(snapshot_period) from ' ~ this
    ).columns[0].values()[0] -%}
    {%- if last_stored is none -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- set first = rfm_shift_period(rfm_recompute_from(last_stored), 1) -%}
    {%- for period in rfm_expected_periods(first) -%}
        {%- do rfm_fold_store_step(step, period, columns) -%}
    {%- endfor -%}
    {{- return('') -}}
{%- endmacro %}
