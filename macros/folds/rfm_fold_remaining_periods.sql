{#-
    Post-hook of a fold (rfm_segments_history, int_user_features): the steps of the run that
    the model's select did not store, each from the rows the step before it stored, up to the
    period of rfm_as_of. `step` is the model's step macro, step(period, previous_period) -> SQL.
    - Full build: the model's select stored the first period P0, the only stored one; this
      hook recomputes every period from rfm_recompute_from(P0) plus one. With a lookback that
      recomputes P0 (and periods before it, which have no user) once more: a step of the first
      period's few users, and the same rows.
    - Incremental run: the model's select stored nothing (rfm_fold_first_select) and the latest
      stored period is unchanged; this hook recomputes every period from
      rfm_recompute_from(the latest stored period) on.
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
    {%- set first = rfm_recompute_from(last_stored) -%}
    {%- if not is_incremental() -%}
        {%- set first = rfm_shift_period(first, 1) -%}
    {%- endif -%}
    {%- for period in rfm_expected_periods(first) -%}
        {%- do rfm_fold_store_step(step, period, columns) -%}
    {%- endfor -%}
    {{- return('') -}}
{%- endmacro %}
