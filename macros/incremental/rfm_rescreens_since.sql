{#- What a screening staging model screened again in its runs after the run number `last_read`
    (its marker <model>__rescreens, rfm_record_rescreen), for a model that reads its rows
    incrementally: a dict of every_row (a run screened every row, or the marker was started
    again since: true), rescreened_from (the first day screened again; none when no run came
    since) and last_rescreen (the marker's last run number, for the reader to record). -#}
{% macro rfm_rescreens_since(rescreens, last_read) -%}
    {%- set query -%}
        select
            max(
                case
                    when rescreen_number > {{ last_read }} and rescreened_from is null then 1
                    else 0
                end
            ) as every_row,
            min(case when rescreen_number > {{ last_read }} then rescreened_from end)
                as rescreened_from,
            max(rescreen_number) as last_rescreen
        from {{ rescreens }}
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {{- return({
        'every_row': row[0] == 1 or row[2] is none or row[2] < last_read,
        'rescreened_from': row[1],
        'last_rescreen': row[2] if row[2] is not none else 0,
    }) -}}
{%- endmacro %}


{#- SQL, a scalar: the last run number in the marker <staging>__rescreens of a screening
    staging model (`staging`, a ref()), 0 when the marker does not exist - what a reader
    records as read, for its next rfm_rescreens_since. -#}
{% macro rfm_last_rescreen(staging) -%}
    {%- set rescreens = load_relation(rfm_relation_beside('rescreens', staging)) -%}
    {%- if rescreens is none -%}
        cast(0 as {{ dbt.type_bigint() }})
    {%- else -%}
        (select coalesce(max(rescreen_number), 0) from {{ rescreens }})
    {%- endif -%}
{%- endmacro %}
