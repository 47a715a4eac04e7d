{#- The key test of a column that is unique among the rows matching `rows` (a SQL predicate;
    every row when none). Where the model keeps that key with a unique index on exactly this
    column and predicate (on PostgreSQL, the partial indexes of stg_billing__payments and
    stg_events__events, created by the post-hook rfm_unique_clean_ids and checked at every
    insert), the test checks that
    the index exists, a lookup in the catalog, instead of reading the whole table on every run.
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

-- one row when the table has no unique index on exactly this column with this predicate
select '{{ model }}' as table_without_the_unique_index
where not exists (
    select 1
    from pg_index
    inner join pg_class on pg_index.indrelid = pg_class.oid
    inner join pg_namespace on pg_class.relnamespace = pg_namespace.oid
    inner join pg_attribute
        on
            pg_index.indrelid = pg_attribute.attrelid
            and pg_index.indkey[0] = pg_attribute.attnum
    where
        pg_namespace.nspname = '{{ model.schema }}'
        and pg_class.relname = '{{ model.identifier }}'
        and pg_index.indisunique
        and pg_index.indnatts = 1
        and pg_attribute.attname = '{{ column_name }}'
        {%- if rows %}
        and lower(regexp_replace(
            pg_get_expr(pg_index.indpred, pg_index.indrelid), '[()[:space:]]', '', 'g'
        ))
        = lower(regexp_replace('{{ rows | replace("'", "''") }}', '[()[:space:]]', '', 'g'))
        {%- else %}
        and pg_index.indpred is null
        {%- endif %}
)

{%- endif %}
{% endtest %}
