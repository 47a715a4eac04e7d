{#- The working table `<this>__<suffix>` of int_identity_components' label propagation, beside
    the model in its schema. -#}
{% macro rfm_identity_work_relation(suffix) -%}
    {{ return(this.incorporate(path={'identifier': this.identifier ~ '__' ~ suffix}, type='table')) }}
{%- endmacro %}
