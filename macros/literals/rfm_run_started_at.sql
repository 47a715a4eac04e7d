{#- SQL: the instant the dbt invocation started (run_started_at, UTC), a timestamp literal: what
    int_profile_events stamps the rows and the changes of a run with, and what profile_traits
    records it read up to. Every model of one invocation sees the same instant. -#}
{% macro rfm_run_started_at() -%}
    {{- rfm_timestamp_literal(run_started_at.replace(tzinfo=none)) -}}
{%- endmacro %}
