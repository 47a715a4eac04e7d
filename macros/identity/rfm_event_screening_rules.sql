{#- SQL: the rules stg_events__events screens with, as (rule_kind, rule_value) rows - the event
    names it knows and the identifier placeholders it drops - for the marker of its incremental
    runs (rfm_screening_rules_changed). -#}
{% macro rfm_event_screening_rules() -%}
    select 'event_name' as rule_kind, event_name as rule_value
    from {{ ref('identity_event_names') }}
    union all
    select 'placeholder' as rule_kind, identifier_value as rule_value
    from ({{ rfm_identifier_placeholders() }}) as placeholders
{%- endmacro %}
