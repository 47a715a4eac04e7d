{#-
    Optional inputs: tables the project reads only when they exist (dim_users, fact_balances,
    the cluster model tables of `rfm clusters`, ml.ltv_predictions of `rfm ltv`). The models
    that read them fall back to an empty, typed result otherwise.
-#}

{#- Jinja: true when the relation (a source() or ref()) exists in the warehouse; false while
    dbt parses (nothing is read then). -#}
{% macro rfm_relation_exists(relation) -%}
    {%- if not execute -%}
        {{- return(false) -}}
    {%- endif -%}
    {{- return(load_relation(relation) is not none) -}}
{%- endmacro %}
