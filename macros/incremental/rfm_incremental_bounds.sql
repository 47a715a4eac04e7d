{#-
    The boundaries of an incremental run of a period-keyed model (rfm_segments_history,
    int_payments_per_user_period, int_user_features: python dates, rendered as literals), read
    once from the stored table's latest `period_column`:
    - recompute_from: the first period recomputed (rfm_recompute_from) = the last stored period
      minus rfm_lookback_periods (docs/contract.md: the last rfm_lookback_periods + 1 stored
      periods are redone), or earlier when customer keys changed since the stored run
      (rfm_customer_keys_changed_from, docs/identity.md);
    - state_period: the stored period before it, whose rows carry the running totals forward;
    - compute_from: the first period whose payments are read (W - 1 periods before
      recompute_from with a window W, so that the window sums are complete).
    All none on a full build (or an empty table). Fails when the stored history was built with
    another grain, or when rfm_as_of moved back before the last stored period: both need a
    --full-refresh, and silently mixing them would corrupt the history.
-#}
{% macro rfm_incremental_bounds(period_column='snapshot_period') -%}
    {%- set bounds = {'recompute_from': none, 'state_period': none, 'compute_from': none} -%}
    {%- set lookback_periods = rfm_lookback_periods() -%}  {#- validated on every run -#}
    {%- if not (execute and is_incremental()) -%}
        {{- return(bounds) -}}
    {%- endif -%}
    {%- set last_stored_period = run_query(
        'select max(' ~ period_column ~ ') from ' ~ this
    ).columns[0].values()[0] -%}
    {%- if last_stored_period is none -%}
        {{- return(bounds) -}}
    {%- endif -%}
    {%- if rfm_period_of(last_stored_period) != last_stored_period -%}
        {{ exceptions.raise_compiler_error(
            this ~ " holds periods of another grain than rfm_grain=" ~ rfm_grain()
            ~ " (latest stored period " ~ last_stored_period ~ "): rebuild it with --full-refresh"
        ) }}
    {%- endif -%}
    {%- if last_stored_period > rfm_period_of(rfm_as_of_datetime()) -%}
        {{ exceptions.raise_compiler_error(
            "rfm_as_of=" ~ rfm_as_of_datetime() ~ " falls before the latest stored period "
            ~ last_stored_period ~ " of " ~ this
            ~ ": an incremental run cannot move back in time; rebuild it with --full-refresh"
        ) }}
    {%- endif -%}
    {%- set recompute_from = rfm_recompute_from(last_stored_period) -%}
    {%- do bounds.update({
        'recompute_from': recompute_from,
        'state_period': rfm_shift_period(recompute_from, -1),
        'compute_from': rfm_shift_period(recompute_from, 1 - (rfm_window_periods() or 1)),
    }) -%}
    {{- return(bounds) -}}
{%- endmacro %}
