{#- Var rfm_identity_max_passes: the bound on the label propagation's passes
    (rfm_identity_label_components); reaching it fails the build naming the var. -#}
{% macro rfm_identity_max_passes() -%}
    {{- return(rfm_positive_int_var('rfm_identity_max_passes', 30, 1)) -}}
{%- endmacro %}
