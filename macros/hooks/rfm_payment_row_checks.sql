{#- Post-hook of stg_billing__payments: on PostgreSQL, check constraints for the rules of its
    rows (a clean row has a payment_id, a user_id and a positive amount; a rejection reason is
    one of docs/contract.md's), added when the table has none (it was just built). Adding them
    reads the new table once; afterwards PostgreSQL checks each row as it is inserted. They
    replace four data tests (not_null x2, accepted_range, accepted_values in
    _billing__models.yml, still run on the other engines) that each read the whole table on
    every run, a cost growing with the history instead of the new rows. `rfm_rejection_reasons` must list the reasons of the
    accepted_values test (tests/python/test_bad_input.py checks it). -#}
{% macro rfm_payment_row_checks() -%}
    {{ return(adapter.dispatch('rfm_payment_row_checks', 'rfm_segmentation')()) }}
{%- endmacro %}

{% macro default__rfm_payment_row_checks() -%}
{%- endmacro %}

{% macro postgres__rfm_payment_row_checks() -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set clean_row_rules = {
        'clean_payment_has_payment_id': 'payment_id is not null',
        'clean_payment_has_user_id': 'user_id is not null',
        'clean_payment_amount_is_positive': 'payment_amount > 0',
    } -%}
    {%- set existing = run_query(
        "select count(*) from pg_constraint where contype = 'c' and conrelid = '"
        ~ this ~ "'::regclass"
    ).columns[0].values()[0] -%}
    {%- if existing == 0 -%}
        alter table {{ this }}
        {%- for name, rule in clean_row_rules.items() %}
            add constraint {{ name }} check (rejection_reason is not null or {{ rule }}),
        {%- endfor %}
            add constraint rejection_reason_is_known check (
                rejection_reason in ('{{ rfm_rejection_reasons() | join("', '") }}')
            )
    {%- endif -%}
{%- endmacro %}
