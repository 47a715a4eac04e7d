{#- SQL, the body of a CTE of a screening staging model on an incremental run: the ids of its
    clean rescreened rows (`candidates`: a CTE with `id_column` and row_rejection_reason) that
    a stored, older row keeps - those rows are duplicates. Looked up by id (on PostgreSQL in
    the partial unique index of rfm_unique_clean_ids) instead of reading every stored id. -#}
{% macro rfm_stored_clean_ids(id_column, candidates) -%}
    select {{ id_column }} from {{ this }}
    where
        rejection_reason is null
        and {{ id_column }} in (
            select {{ id_column }} from {{ candidates }}
            where row_rejection_reason is null
        )
{%- endmacro %}
