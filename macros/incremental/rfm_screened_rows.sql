{#- SQL, the body of the `screened` CTE of a screening staging model (stg_billing__payments,
    stg_events__events): the `columns` of `ranked` (a CTE with them, row_rejection_reason and
    copy_rank - a clean row's rank among the rows of its id) with the rejection reason: the
    row's own, else duplicate_<id_column> for a later copy among the rows screened, or, on an
    incremental run, for a clean row whose id a stored, older row keeps (the CTE
    stored_clean_ids, rfm_stored_clean_ids). -#}
{% macro rfm_screened_rows(ranked, id_column, columns) -%}
    {%- set duplicate = "'duplicate_" ~ id_column ~ "'" %}
    select
        {%- for column in columns %}
        {{ ranked }}.{{ column }},
        {%- endfor %}
        case
            when {{ ranked }}.row_rejection_reason is not null
                then {{ ranked }}.row_rejection_reason
            when {{ ranked }}.copy_rank > 1 then {{ duplicate }}
            {%- if is_incremental() %}
            when stored_clean_ids.{{ id_column }} is not null then {{ duplicate }}
            {%- endif %}
        end as rejection_reason
    from {{ ranked }}
    {%- if is_incremental() %}
    left join stored_clean_ids
        on
            {{ ranked }}.row_rejection_reason is null
            and {{ ranked }}.{{ id_column }} = stored_clean_ids.{{ id_column }}
    {%- endif %}
{%- endmacro %}
