{#- Passes when no two rows share the same values in all the given columns. With
    indexed_on_postgres, the model keeps that key with a unique index on exactly these columns
    on PostgreSQL (rfm_unique_index, checked at every insert): there the test checks that the
    index exists, a lookup in the catalog, instead of reading the whole table on every run. -#}
{% test unique_combination_of_columns(model, combination_of_columns, indexed_on_postgres=false) %}
{%- if not (indexed_on_postgres and target.type == 'postgres') %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as duplicate_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{%- else %}

-- one row when the table has no unique index on exactly these columns (and no predicate)
select '{{ model }}' as table_without_the_unique_index
where not exists (
    select 1
    from pg_index
    inner join pg_class on pg_index.indrelid = pg_class.oid
    inner join pg_namespace on pg_class.relnamespace = pg_namespace.oid
    where
        pg_namespace.nspname = '{{ model.schema }}'
        and pg_class.relname = '{{ model.identifier }}'
        and pg_index.indisunique
        and pg_index.indpred is null
        and pg_index.indnatts = {{ combination_of_columns | length }}
        and (
            select array_agg(pg_attribute.attname::text order by pg_attribute.attname::text)
            from pg_attribute
            where
                pg_attribute.attrelid = pg_index.indrelid
                and pg_attribute.attnum = any(pg_index.indkey)
        )
        = array[{% for column in combination_of_columns | sort %}'{{ column }}'{{ ", " if not loop.last }}{% endfor %}]::text[]
)

{%- endif %}
{% endtest %}
