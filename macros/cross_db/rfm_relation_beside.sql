{#- The table `<relation>__<suffix>` beside a model (`relation`, by default this one), in its
    schema: the working tables of int_identity_components' label propagation, and the markers
    that record what an incremental model was built with (`__score_methods`, `__customer_keys`)
    or what a staging model screened (`__rescreens`). -#}
{% macro rfm_relation_beside(suffix, relation=none) -%}
    {%- set model = relation if relation is not none else this -%}
    {{ return(model.incorporate(path={'identifier': model.identifier ~ '__' ~ suffix}, type='table')) }}
{%- endmacro %}
