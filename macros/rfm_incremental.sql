{#-
    The boundaries of an incremental run of rfm_segments_history (python dates, rendered as
    literals), read once from the stored history:
    - recompute_from: the first period recomputed = the last stored period minus
      rfm_lookback_periods (SPEC.md: the last rfm_lookback_periods + 1 stored periods are redone);
    - state_period: the stored period before it, whose rows carry the running totals forward;
    - compute_from: the first period whose payments are read (W - 1 periods before
      recompute_from with a window W, so that the window sums are complete).
    All none on a full build (or an empty table). Fails when the stored history was built with
    another grain, or when rfm_as_of moved back before the last stored period: both need a
    --full-refresh, and silently mixing them would corrupt the history.
-#}
{% macro rfm_incremental_bounds() -%}
    {%- set bounds = {'recompute_from': none, 'state_period': none, 'compute_from': none} -%}
    {%- set lookback_periods = rfm_lookback_periods() -%}  {#- validated on every run -#}
    {%- if not (execute and is_incremental()) -%}
        {{- return(bounds) -}}
    {%- endif -%}
    {%- set last_stored_period = run_query(
        'select max(snapshot_period) from ' ~ this
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
    {%- set recompute_from = rfm_shift_period(last_stored_period, -lookback_periods) -%}
    {%- do bounds.update({
        'recompute_from': recompute_from,
        'state_period': rfm_shift_period(recompute_from, -1),
        'compute_from': rfm_shift_period(recompute_from, 1 - (rfm_window_periods() or 1)),
    }) -%}
    {{- return(bounds) -}}
{%- endmacro %}


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


{#-
    Fails when the stored features (int_user_features, default: the model being built) were
    built with another ltv_horizon_periods than this run's: their payments_last_horizon counts
    another number of periods, an incremental run rewrites only the last periods, and the labels
    of rfm_user_features would not match horizon_periods. It needs a --full-refresh.
-#}
{% macro rfm_check_stored_horizon(horizon, relation=none) -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set stored_relation = load_relation(relation if relation is not none else this) -%}
    {%- if stored_relation is none -%}
        {{- return('') -}}
    {%- endif -%}
    {#- one row of the latest period: a run writes every row of a period with one horizon.
        `order by ... limit 1` reads it through the (snapshot_period, user_id) index;
        `where snapshot_period = (select max(...))` scanned the table (0.9 s at M). -#}
    {%- set stored = run_query(
        'select horizon_periods from ' ~ stored_relation
        ~ ' order by snapshot_period desc limit 1'
    ).columns[0].values() | list -%}
    {%- if stored | length > 0 and stored != [horizon] -%}
        {{ exceptions.raise_compiler_error(
            stored_relation ~ " was built with ltv_horizon_periods=" ~ (stored | join(', '))
            ~ ", this run has ltv_horizon_periods=" ~ horizon
            ~ ": rebuild it with --full-refresh"
        ) }}
    {%- endif -%}
{%- endmacro %}


{#- SQL: the clean payments (user_id, payment_date, payment_amount) of stg_billing__payments,
    only those on or after `since` (a python date) when it is set: what the history and
    int_user_features read, on a full build (since none) and on an incremental run. -#}
{% macro rfm_clean_payments(since=none) -%}
    select
        user_id,
        payment_date,
        payment_amount
    from {{ ref('stg_billing__payments') }}
    where rejection_reason is null
    {%- if since %}
        and payment_date >= {{ rfm_date_literal(since) }}
    {%- endif %}
{%- endmacro %}


{#-
    The first day whose raw payments an incremental run of stg_billing__payments screens again
    (a python date): the start of the period of rfm_as_of, rfm_lookback_periods periods back,
    so that late payments inside the lookback are screened without a full rescreen. It depends
    on the run's vars only, so the delete (pre-hook) and the select of the model agree.
-#}
{% macro rfm_payments_rescreened_from() -%}
    {{- return(rfm_shift_period(rfm_period_of(rfm_as_of_datetime()), -rfm_lookback_periods())) -}}
{%- endmacro %}


{#- SQL: the payment rows (raw or stored) that an incremental run of stg_billing__payments
    screens again - dated from rfm_payments_rescreened_from() on, or without a date. The one
    definition read by the pre-hook's delete and by the model's select. -#}
{% macro rfm_rescreened_payment_rows() -%}
    (
        payment_date >= {{ rfm_date_literal(rfm_payments_rescreened_from()) }}
        or payment_date is null
    )
{%- endmacro %}


{#-
    Pre-hook of stg_billing__payments on an incremental run: delete the stored rows it screens
    again (rfm_rescreened_payment_rows), or every row, when the count of raw rows dated before
    rfm_payments_rescreened_from() differs from the stored one (late rows arrived, or rows were
    deleted), or when a stored row before that day was rejected as after_as_of (rfm_as_of
    moved on by more than the lookback). The model then selects what the table no longer
    holds, in the same transaction: the rescreened rows, or all of them. (Comparing the total
    amount as well cost 0.4 s more at M, for corrections that need a --full-refresh of the
    history anyway.) The counts are a select of their own, run when the hook is rendered: as
    subqueries of the delete they ran without PostgreSQL's parallel workers (0.45 s against
    0.29 s at M, on the critical path of every scheduled run).
-#}
{% macro rfm_delete_rescreened_payments() -%}
    {%- if is_incremental() -%}
        {%- set since = rfm_date_literal(rfm_payments_rescreened_from()) -%}
        {%- set count_query -%}
            select
                case
                    when
                        raw_rows.row_count <> stored_rows.row_count
                        or stored_rows.after_as_of_rows > 0
                        then 1
                    else 0
                end as rescreen_every_row
            from (
                select count(*) as row_count
                from {{ source('billing', 'fact_payments') }}
                where payment_date < {{ since }}
            ) as raw_rows
            cross join (
                select
                    count(*) as row_count,
                    count(case when rejection_reason = 'after_as_of' then 1 end)
                        as after_as_of_rows
                from {{ this }}
                where payment_date < {{ since }}
            ) as stored_rows
        {%- endset -%}
        {%- set rescreen_every_row = run_query(count_query).columns[0].values()[0] == 1 %}
        delete from {{ this }}
        {%- if not rescreen_every_row %}
        where {{ rfm_rescreened_payment_rows() }}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}
