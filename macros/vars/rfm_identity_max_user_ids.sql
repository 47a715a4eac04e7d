{#- Var rfm_identity_max_user_ids: an e-mail or anonymous_id seen with more distinct user_ids
    than this is shared (a family e-mail, a shop's kiosk) and merges nothing. -#}
{% macro rfm_identity_max_user_ids() -%}
    {{- return(rfm_positive_int_var('rfm_identity_max_user_ids', 5, 1)) -}}
{%- endmacro %}
