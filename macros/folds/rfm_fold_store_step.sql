{#- Replace the stored rows of one period with those of the fold's step (delete + insert, in
    the model's transaction). -#}
{% macro rfm_fold_store_step(step, period, columns) -%}
    {%- do run_query(
        'delete from ' ~ this ~ ' where snapshot_period = ' ~ rfm_date_literal(period)
    ) -%}
    {%- do run_query(
        'insert into ' ~ this ~ ' (' ~ columns | join(', ') ~ ') select '
        ~ columns | join(', ') ~ ' from (' ~ step(period, rfm_shift_period(period, -1))
        ~ ') as step'
    ) -%}
{%- endmacro %}
