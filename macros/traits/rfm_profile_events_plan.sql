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
    {%- set rescreens = load_relation(rfm_relation_beside('rescreens', ref('stg_events__events'))) -%}
    {%- set rescreens_read = load_relation(rfm_relation_beside('rescreens_read')) -%}
    {%- set stored_map = load_relation(rfm_relation_beside('identity_map')) -%}
    {%- if rescreens is none or rescreens_read is none or stored_map is none -%}
        {{- return(every_event) -}}
    {%- endif -%}
    {%- set query -%}
        select
            max(
                case
                    when
                        rescreens.rescreen_number > rescreens_read.rescreen_number
                        and rescreens.rescreened_from is null
                        then 1
                    else 0
                end
            ) as every_row_rescreened,
            min(
                case
                    when rescreens.rescreen_number > rescreens_read.rescreen_number
                        then rescreens.rescreened_from
                end
            ) as rescreened_from,
            max(rescreens.rescreen_number) as last_rescreen,
            max(rescreens_read.rescreen_number) as last_read
        from {{ rescreens }} as rescreens
        cross join {{ rescreens_read }} as rescreens_read
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- if row[0] == 1 or row[2] is none or row[2] < row[3] -%}
        {{- return(every_event) -}}
    {%- endif -%}
    {{- return({'every_event': false, 'rescreened_from': row[1]}) -}}
{%- endmacro %}
