{#- SQL, PostgreSQL only: one row naming `model` when it has no unique index on exactly
    `columns` (in any order) with the predicate `rows` (none: an index without a predicate).
    The check of the key tests unique_or_indexed and unique_combination_of_columns where an
    index keeps the key (rfm_unique_index, rfm_unique_clean_ids): a lookup in the catalog
    instead of reading the whole table on every run. -#}
{% macro rfm_missing_unique_index(model, columns, rows=none) -%}
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
        and pg_index.indnatts = {{ columns | length }}
        and (
            select array_agg(pg_attribute.attname::text order by pg_attribute.attname::text)
            from pg_attribute
            where
                pg_attribute.attrelid = pg_index.indrelid
                and pg_attribute.attnum = any(pg_index.indkey)
        )
        = array[{% for column in columns | sort %}'{{ column }}'{{ ", " if not loop.last }}{% endfor %}]::text[]
        {%- if rows %}
        and lower(regexp_replace(
            pg_get_expr(pg_index.indpred, pg_index.indrelid), '[()[:space:]]', '', 'g'
        ))
        = lower(regexp_replace('{{ rows | replace("'", "''") }}', '[()[:space:]]', '', 'g'))
        {%- else %}
        and pg_index.indpred is null
        {%- endif %}
)
{%- endmacro %}
