{#- Pre-hook of a period-keyed incremental model that appends its recomputed periods: delete
    every stored row from the first recomputed period on (rfm_incremental_bounds), so that a
    period the run no longer produces rows for keeps none either. -#}
{% macro rfm_delete_recomputed_periods(period_column) -%}
    {%- set bounds = rfm_incremental_bounds(period_column) -%}
    {%- if bounds.recompute_from is not none %}
        delete from {{ this }}
        where {{ period_column }} >= {{ rfm_date_literal(bounds.recompute_from) }}
    {%- endif -%}
{%- endmacro %}
