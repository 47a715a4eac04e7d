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
        `where snapshot_period = (select max(...))` would scan the table. -#}
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
