{#- SQL: true for an event (a row of stg_events__events, of the alias `events`) that
    carries an identifier whose profile changed since int_profile_events was last built: one of
    the working table <int_profile_events>__reassigned (rfm_delete_reassigned_events). Only
    such events, and those the staging screened again, can count for another profile than the
    stored one: an event's profile follows from its identifiers' profiles alone. -#}
{% macro rfm_reassigned_events(events) -%}
    {%- set reassigned = rfm_relation_beside('reassigned') -%}
    (
        {%- for column in ['user_id', 'email', 'anonymous_id'] %}
        {{ 'or ' if not loop.first }}{{ events }}.{{ column }} in (
            select identifier_value from {{ reassigned }}
            where identifier_type = '{{ column }}'
        )
        {%- endfor %}
    )
{%- endmacro %}
