{#-
    What an incremental run of int_profile_events recomputes (a dict), read the same way by its
    select and its pre-hook:
    - every_event: every event again - a first build, a --full-refresh, a run of the staging
      that screened every row since this model last read its marker (stg_events__events
      __rescreens), or a missing marker of either model;
    - rescreened_from: otherwise the first day the staging screened again since this model
      last read the marker (the smallest over its runs since), or none when it did not run.
    Besides those, a run recomputes the events of the identifiers whose profile changed
    (rfm_reassigned_events).
-#}
{% macro rfm_profile_events_plan() -%}
    {%- set every_event = {'every_event': true, 'rescreened_from': none} -%}
    {%- if not execute or not is_incremental() -%}
        {{- return(every_event) -}}
    {%- endif -%}
    {%- set stored_map = load_relation(rfm_relation_beside('identity_map')) -%}
    {%- set since = rfm_staging_reader_plan(ref('stg_events__events')) -%}
    {%- if stored_map is none or since.every_row -%}
        {{- return(every_event) -}}
    {%- endif -%}
    {{- return({'every_event': false, 'rescreened_from': since.rescreened_from}) -}}
{%- endmacro %}
