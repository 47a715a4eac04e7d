{#-
    SQL: the CTEs `ranked` and `scored` (preceded by a comma-free list: the caller writes the
    comma after them) that score the rows of the CTE `source` (columns recency_days, frequency,
    monetary) by the method of each metric (docs/scores.md). partition_by: the column the
    ranks are taken within (none when `source` holds one period). The fold's step and Spark's
    one statement both score through this macro, so that the two cannot drift apart.

    `ranked` adds the three *_percentile columns (always percent_rank(), the user's position in
    the period), and *_mid_rank for the metrics scored by mid_rank; `scored` adds the three
    *_score columns.

    Recency days and frequency take few distinct values in a period, so their ranks come from
    a count of the users per value: a running sum over that small table gives the users ranked
    before each value, and a hash join carries it back to the rows. That is percent_rank()'s
    (and rfm_mid_rank's) arithmetic on the same integers, without sorting the period's rows;
    only monetary, with about as many values as users, is ranked by a sort. The values are
    never null (every user of a period has a payment), so each row finds its value's count.
-#}
{% macro rfm_scoring_ctes(source, partition_by=none) -%}
{%- set methods = rfm_score_methods() -%}
{%- set metrics = [
    ('recency', 'recency_days', 'desc'),
    ('frequency', 'frequency', 'asc'),
    ('monetary', 'monetary', 'asc'),
] -%}
{%- set within = ('partition by ' ~ partition_by ~ ' ') if partition_by else '' %}
{#- the partition column leading the ranks' tables' columns and keys, if any -#}
{%- set key = (partition_by ~ ', ') if partition_by else '' %}
{#- the windows over the rows of `source` name its columns: the ranks' tables have them too -#}
{%- set rows_partition = (source ~ '.' ~ partition_by) if partition_by else none %}
{%- set within_rows = ('partition by ' ~ rows_partition ~ ' ') if partition_by else '' %}
{%- set counted = ['recency', 'frequency'] %}
{%- for metric, value, direction in metrics if metric in counted %}
{{ metric }}_value_counts as (
    select
        {{ key }}{{ value }},
        count(*) as users_with_value
    from {{ source }}
    group by {{ key }}{{ value }}
),

{{ metric }}_ranks as (
    select
        {{ key }}{{ value }},
        users_with_value,
        cast(coalesce(sum(users_with_value) over (
            {{ within }}order by {{ value }} {{ direction }}
            rows between unbounded preceding and 1 preceding
        ), 0) as {{ dbt.type_bigint() }}) as users_before,
        cast(sum(users_with_value) over ({{ within }}) as {{ dbt.type_bigint() }}) as users
    from {{ metric }}_value_counts
),

{%- endfor %}
ranked as (
    select
        {{ source }}.*
        {%- for metric, value, direction in metrics %},
        {%- if metric in counted %}
        -- percent_rank(): (users ranked before) / (users - 1), 0 for a lone user
        case
            when {{ metric }}_ranks.users > 1
                then cast({{ metric }}_ranks.users_before as {{ rfm_type('double') }})
                / cast({{ metric }}_ranks.users - 1 as {{ rfm_type('double') }})
            else cast(0 as {{ rfm_type('double') }})
        end as {{ metric }}_percentile
        {%- if methods[metric] == 'mid_rank' %},
        -- rfm_mid_rank's integers: 2 x (ranked before) + (tied - 1) over 2 x (users - 1)
        coalesce(
            cast(
                2 * {{ metric }}_ranks.users_before + {{ metric }}_ranks.users_with_value - 1
                as {{ rfm_type('double') }}
            ) / nullif(2 * ({{ metric }}_ranks.users - 1), 0),
            0
        ) as {{ metric }}_mid_rank
        {%- endif %}
        {%- else %}
        percent_rank() over (
            {{ within_rows }}order by {{ source }}.{{ value }} {{ direction }}
        ) as {{ metric }}_percentile
        {%- if methods[metric] == 'mid_rank' %},
        {{ rfm_mid_rank(source ~ '.' ~ value, direction, rows_partition) }}
            as {{ metric }}_mid_rank
        {%- endif %}
        {%- endif %}
        {%- endfor %}
    from {{ source }}
    {%- for metric, value, direction in metrics if metric in counted %}
    left join {{ metric }}_ranks
        on
            {%- if partition_by %}
            {{ source }}.{{ partition_by }} = {{ metric }}_ranks.{{ partition_by }} and
            {%- endif %}
            {{ source }}.{{ value }} = {{ metric }}_ranks.{{ value }}
    {%- endfor %}
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
