{#- Refresh the planner's statistics of a table just written (a post-hook): PostgreSQL's
    autovacuum would do it later, and the next models' plans depend on it now. `relation`: a
    working table instead of the model (run it with run_query when not empty). -#}
{% macro rfm_analyze(relation=none) -%}
    {{ return(adapter.dispatch('rfm_analyze', 'rfm_segmentation')(relation)) }}
{%- endmacro %}

{% macro default__rfm_analyze(relation=none) -%}
{%- endmacro %}

{% macro postgres__rfm_analyze(relation=none) -%}
    analyze {{ relation if relation is not none else this }}
{%- endmacro %}


{#- Creates the working table `relation` from a select (dropping an older one first) and, where
    the engine keeps planner statistics, analyses it at once: later statements of the same
    hook join it, and PostgreSQL plans them from its statistics. -#}
{% macro rfm_create_analyzed_table(relation, select_sql) -%}
    {%- do run_query('drop table if exists ' ~ relation) -%}
    {%- do run_query(rfm_create_table_as(relation, select_sql)) -%}
    {%- set analyze = rfm_analyze(relation) | trim -%}
    {%- if analyze -%}
        {%- do run_query(analyze) -%}
    {%- endif -%}
{%- endmacro %}
