{#- SQL: the mid-rank percentile of `value` within `partition_by` (none: every row), ordered
    `direction` (asc or desc): (users ranked before + (tied users - 1) / 2) / (users - 1), 0 for
    a lone user (docs/scores.md). Numerator and denominator are doubled to stay integers: the
    division is then one correctly rounded double division, as in the reference. -#}
{% macro rfm_mid_rank(value, direction, partition_by=none) -%}
    {%- set whole = ('partition by ' ~ partition_by) if partition_by else '' -%}
    {%- set ties = 'partition by ' ~ ((partition_by ~ ', ') if partition_by else '') ~ value -%}
    coalesce(
        cast(
            2 * (rank() over ({{ whole }} order by {{ value }} {{ direction }}) - 1)
            + count(*) over ({{ ties }}) - 1
            as {{ rfm_type('double') }}
        ) / nullif(2 * (count(*) over ({{ whole }}) - 1), 0),
        0
    )
{%- endmacro %}
