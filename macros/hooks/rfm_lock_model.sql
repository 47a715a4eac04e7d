{#- Serialize concurrent runs of one incremental model: a transaction-level advisory lock on
    the model's name, taken by a pre-hook inside the model's transaction and released at its
    commit or rollback. Without it, two overlapping delete+insert runs of a mart without a
    unique index would both insert their rows. -#}
{% macro rfm_lock_model() -%}
    {{ return(adapter.dispatch('rfm_lock_model', 'rfm_segmentation')()) }}
{%- endmacro %}

{% macro default__rfm_lock_model() -%}
{%- endmacro %}

{% macro postgres__rfm_lock_model() -%}
    select pg_advisory_xact_lock(hashtext('{{ this }}'))
{%- endmacro %}
