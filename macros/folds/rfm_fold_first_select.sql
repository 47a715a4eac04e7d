{#- SQL: the select of a fold's model (rfm_segments_history, int_user_features), given its
    step macro and rfm_fold_first_step(). A full build selects the first step: dbt creates the
    table from it, and the post-hook adds the later periods. An incremental run selects no row
    (only the step's columns, for dbt's temporary table), and the post-hook replaces every
    recomputed period itself, the first one included: dbt's delete+insert of a whole period,
    through a temporary table and an `in (select distinct ...)` over the stored table, cost
    about twice the fold's own delete and insert of the same period. -#}
{% macro rfm_fold_first_select(step, first_step) -%}
    {%- if first_step.get('by_post_hook') %}
select * from (
    {{ step(first_step.period, first_step.previous_period) }}
) as first_step
where 1 = 0
    {%- else %}
{{ step(first_step.period, first_step.previous_period) }}
    {%- endif %}
{%- endmacro %}
