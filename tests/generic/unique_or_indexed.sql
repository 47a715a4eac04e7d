{#- The key test of a column that is unique among the rows matching `rows` (a SQL predicate;
    every row when none). Where the model keeps that key with a unique index on exactly this
    column and predicate (on PostgreSQL, the partial indexes of stg_billing__payments and
    stg_events__events, created by the post-hook rfm_unique_clean_ids and checked at every
    insert), the test checks that the index exists (rfm_missing_unique_index), a lookup in the
    catalog, instead of reading the whole table on every run.
    Elsewhere it looks for duplicate values. -#}
{% test unique_or_indexed(model, column_name, rows=none) %}
{%- if target.type != 'postgres' %}

select
    {{ column_name }},
    count(*) as duplicate_rows
from {{ model }}
where {{ column_name }} is not null{% if rows %} and ({{ rows }}){% endif %}
group by {{ column_name }}
having count(*) > 1

{%- else %}

{{ rfm_missing_unique_index(model, [column_name], rows) }}

{%- endif %}
{% endtest %}
