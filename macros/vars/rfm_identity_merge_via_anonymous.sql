{#- Var rfm_identity_merge_via_anonymous: true lets an anonymous_id merge the user_ids and
    e-mails it was seen with; false (default) attaches it to a profile only when all its links
    lead to one. -#}
{% macro rfm_identity_merge_via_anonymous() -%}
    {{- return(segment_bool_var('rfm_identity_merge_via_anonymous', false)) -}}
{%- endmacro %}
