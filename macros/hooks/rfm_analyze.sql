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
