{#- Passes when no two rows share the same values in all the given columns. With
    indexed_on_postgres, the model keeps that key with a unique index on exactly these columns
    on PostgreSQL (rfm_unique_index, checked at every insert): there the test checks that the
    index exists (rfm_missing_unique_index), a lookup in the catalog, instead of reading the
    whole table on every run. -#}
{% test unique_combination_of_columns(model, combination_of_columns, indexed_on_postgres=false) %}
{%- if not (indexed_on_postgres and target.type == 'postgres') %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as duplicate_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{%- else %}

{{ rfm_missing_unique_index(model, combination_of_columns) }}

{%- endif %}
{% endtest %}
