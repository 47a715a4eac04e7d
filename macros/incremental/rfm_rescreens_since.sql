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
