{#- The table `<this>__<suffix>`, beside the model in its schema: the working tables of
    int_identity_components' label propagation, and the markers that record what an incremental
    model was built with (`__score_methods`, `__customer_keys`). -#}
{% macro rfm_relation_beside(suffix) -%}
    {{ return(this.incorporate(path={'identifier': this.identifier ~ '__' ~ suffix}, type='table')) }}
{%- endmacro %}
