{#- Session settings for the project's own heavy statements (a pre-hook inside the model's
    transaction, so nothing leaks to other models or sessions). On PostgreSQL: work_mem from
    var rfm_work_mem (default 256MB; null leaves the server's setting), so that the sorts and
    hashes of the history stay in memory instead of spilling to disk. -#}
{% macro rfm_session_tuning() -%}
    {{ return(adapter.dispatch('rfm_session_tuning', 'rfm_segmentation')()) }}
{%- endmacro %}

{% macro default__rfm_session_tuning() -%}
{%- endmacro %}

{% macro postgres__rfm_session_tuning() -%}
    {%- set work_mem = var('rfm_work_mem', '256MB') -%}
    {%- if work_mem is not none -%}
        {%- if not modules.re.fullmatch('[0-9]{1,7}(kB|MB|GB)', work_mem | string) -%}
            {{ rfm_var_error('rfm_work_mem', work_mem, "expected a size such as '256MB' or null") }}
        {%- endif -%}
        set local work_mem = '{{ work_mem }}'
    {%- endif -%}
{%- endmacro %}
