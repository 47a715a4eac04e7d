{#- Post-hook of int_identity_components (and the start of its pre-hook): drops the working
    tables of the label propagation. -#}
{% macro rfm_identity_drop_work_tables() -%}
    {%- if execute -%}
        {%- for suffix in ['edges', 'labels', 'labels_next', 'changed', 'affected'] -%}
            {%- do adapter.drop_relation(rfm_relation_beside(suffix)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}
