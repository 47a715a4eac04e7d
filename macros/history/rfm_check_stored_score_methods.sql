{#-
    Fails an incremental run of the history when its rows were scored with another method than
    this run's (rfm_<metric>_score_method): an incremental run rewrites only the last periods,
    and older periods would keep the other method's scores and segments. It needs a
    --full-refresh, like a change of rfm_grain. The methods are read from the marker the
    history's post-hook writes (rfm_store_score_methods); a history stored before the marker
    existed was scored by percent_rank, the only method then.
-#}
{% macro rfm_check_stored_score_methods() -%}
    {#- a dbt unit test's `this` is its fixture (a string of SQL), with no marker beside it -#}
    {%- if not (execute and is_incremental()) or this is string -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set stored = {'recency': 'percent_rank', 'frequency': 'percent_rank',
                      'monetary': 'percent_rank'} -%}
    {%- set marker = load_relation(rfm_relation_beside('score_methods')) -%}
    {%- if marker is not none -%}
        {%- for row in run_query('select metric, score_method from ' ~ marker) -%}
            {%- do stored.update({row[0]: row[1]}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set methods = rfm_score_methods() -%}
    {%- set changed = [] -%}
    {%- for metric in ['recency', 'frequency', 'monetary'] if stored[metric] != methods[metric] -%}
        {%- do changed.append(
            'rfm_' ~ metric ~ '_score_method=' ~ stored[metric]
            ~ ' (this run: ' ~ methods[metric] ~ ')'
        ) -%}
    {%- endfor -%}
    {%- if changed -%}
        {{ exceptions.raise_compiler_error(
            this ~ " was scored with " ~ (changed | join(', '))
            ~ ": a change of scoring method applies to every period; rebuild it with --full-refresh"
        ) }}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}
