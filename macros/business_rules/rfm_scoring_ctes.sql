{#-
    SQL: the CTEs `ranked` and `scored` (preceded by a comma-free list: the caller writes the
    comma after them) that score the rows of the CTE `source` (columns recency_days, frequency,
    monetary) by the method of each metric (docs/scores.md). partition_by: the column the
    ranks are taken within (none when `source` holds one period). The fold's step and Spark's
    one statement both score through this macro, so that the two cannot drift apart.

    `ranked` adds the three *_percentile columns (always percent_rank(), the user's position in
    the period), and *_mid_rank for the metrics scored by mid_rank; `scored` adds the three
    *_score columns.
-#}
{% macro rfm_scoring_ctes(source, partition_by=none) -%}
{%- set methods = rfm_score_methods() -%}
{%- set metrics = [
    ('recency', 'recency_days', 'desc'),
    ('frequency', 'frequency', 'asc'),
    ('monetary', 'monetary', 'asc'),
] -%}
{%- set within = ('partition by ' ~ partition_by ~ ' ') if partition_by else '' %}
ranked as (
    select
        {{ source }}.*
        {%- for metric, value, direction in metrics %},
        percent_rank() over (
            {{ within }}order by {{ value }} {{ direction }}
        ) as {{ metric }}_percentile
        {%- if methods[metric] == 'mid_rank' %},
        {{ rfm_mid_rank(value, direction, partition_by) }} as {{ metric }}_mid_rank
        {%- endif %}
        {%- endfor %}
    from {{ source }}
),

scored as (
    select
        ranked.*
        {%- for metric, value, direction in metrics %},
        {%- if methods[metric] == 'thresholds' %}
        {{ metric }}_bins.score as {{ metric }}_score
        {%- elif methods[metric] == 'mid_rank' %}
        {{ rfm_score('ranked.' ~ metric ~ '_mid_rank') }} as {{ metric }}_score
        {%- else %}
        {{ rfm_score('ranked.' ~ metric ~ '_percentile') }} as {{ metric }}_score
        {%- endif %}
        {%- endfor %}
    from ranked
    {%- for metric, value, direction in metrics if methods[metric] == 'thresholds' %}
    -- the seed's bins of a metric cover every value exactly once
    -- (tests/assert_score_thresholds_cover_every_value.sql): one bin per row
    left join {{ ref('rfm_score_thresholds') }} as {{ metric }}_bins
        on
            {{ metric }}_bins.metric = '{{ metric }}'
            and (
                {{ metric }}_bins.lower_bound is null
                or ranked.{{ value }} >= {{ metric }}_bins.lower_bound
            )
            and (
                {{ metric }}_bins.upper_bound is null
                or ranked.{{ value }} < {{ metric }}_bins.upper_bound
            )
    {%- endfor %}
)
{%- endmacro %}
