{#- Var rfm_events: true (default) builds the identity graph and the computed traits of the
    optional event sources (docs/identity.md); false leaves those models out of the project
    (a team without events then pays no node of them on every run), and the current table's
    trait columns stay, null. `rfm_identity: profile` needs the graph. -#}
{% macro rfm_events() -%}
    {%- set events = segment_bool_var('rfm_events', true) -%}
    {%- if not events and rfm_identity() == 'profile' -%}
        {{ rfm_var_error('rfm_events', events, "rfm_identity: profile needs the identity graph of the event sources; set rfm_events: true or rfm_identity: user_id") }}
    {%- endif -%}
    {{- return(events) -}}
{%- endmacro %}
