{#- SQL: the scores 1-5 as rows of one column `score`, for the tests that check every score. -#}
{% macro rfm_score_values() -%}
    select 1 as score
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5
{%- endmacro %}
