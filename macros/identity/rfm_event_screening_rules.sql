{#- SQL: the rules the event sources' staging screens with, as (rule_kind, rule_value) rows -
    the event names it knows (stg_events__events; `event_names=false` for the identify calls,
    which have no name) and the identifier placeholders it drops - for the marker of its
    incremental runs (rfm_screening_rules_changed). -#}
{% macro rfm_event_screening_rules(event_names=true) -%}
    {%- if event_names %}
    select 'event_name' as rule_kind, event_name as rule_value
    from {{ ref('identity_event_names') }}
    union all
    {%- endif %}
    select 'placeholder' as rule_kind, identifier_value as rule_value
    from ({{ rfm_identifier_placeholders() }}) as placeholders
{%- endmacro %}
