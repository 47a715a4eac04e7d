{#- Refresh the planner's statistics of a table just written (a post-hook): PostgreSQL's
    autovacuum would do it later, and the next models' plans depend on it now. -#}
{% macro rfm_analyze() -%}
    {{ return(adapter.dispatch('rfm_analyze', 'rfm_segmentation')()) }}
{%- endmacro %}

{% macro default__rfm_analyze() -%}
{%- endmacro %}

{% macro postgres__rfm_analyze() -%}
    analyze {{ this }}
{%- endmacro %}
