{#-
    Every raw payment row, ids trimmed, with the first rejection reason of docs/contract.md that
    applies (null when the row is clean). Clean payments are the rows with a null rejection_reason;
    the rejected ones are published by payments_rejected. Stored (read by the history,
    payments_rejected and the tests), because the duplicate rule sorts the payments.

    Incremental (a table on Spark): a normal run screens again only the raw rows dated from
    rfm_rescreened_from() on (the period of rfm_as_of and rfm_lookback_periods before
    it) and those without a date; the pre-hook deletes their stored rows first, or every stored
    row when the older raw rows changed (docs/design.md, "Cleaning"). A rescreened copy of a
    payment_id that an older stored row keeps is a duplicate: that row is earlier. Each run
    records what it screened again in the marker <this>__rescreens, for profile_traits.
    On PostgreSQL a partial unique index keeps payment_id unique among the clean rows, and check
    constraints hold the rules of the rows (macros/hooks/): both checked at every insert.
-#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        rfm_lock_model(),
        rfm_session_tuning(),
        "{{ rfm_delete_rescreened_rows(source('billing', 'fact_payments'), 'payment_date',
            record=true) }}",
    ],
    post_hook=[
        "{{ rfm_unique_clean_ids('payment_id') }}",
        "{{ rfm_payment_row_checks() }}",
        rfm_analyze(),
    ],
) }}
{{- rfm_check_raw_schema() }}

with

source_payments as (
    select * from {{ source('billing', 'fact_payments') }}
    {{- rfm_raw_rows_to_screen('payment_date') }}
),

renamed as (
    select
        trim(payment_id) as payment_id,
        trim(user_id) as user_id,
        cast(payment_date as {{ dbt.type_timestamp() }}) as payment_date,
        cast(payment_amount as {{ rfm_type('money') }}) as payment_amount
    from source_payments
),

row_checks as (
    select
        payment_id,
        user_id,
        payment_date,
        payment_amount,
        case
            when payment_id is null or payment_id = '' then 'missing_payment_id'
            when user_id is null or user_id = '' then 'missing_user_id'
            when payment_date is null then 'missing_payment_date'
            when payment_amount is null then 'missing_payment_amount'
            when payment_amount <= 0 then 'non_positive_amount'
            when payment_date >= {{ rfm_as_of() }} then 'after_as_of'
        end as row_rejection_reason
    from renamed
),

ranked_within_payment_id as (
    select
        *,
        case
            when row_rejection_reason is null
                then row_number() over (
                        partition by
                            {{ rfm_text_in_byte_order("payment_id") }}, row_rejection_reason
                        order by
                            payment_date, payment_amount, {{ rfm_text_in_byte_order("user_id") }}
                    )
        end as copy_rank
    from row_checks
),

{%- if is_incremental() %}

-- the rescreened payment_ids that a stored (older) row keeps: duplicates
stored_clean_ids as (
    {{ rfm_stored_clean_ids('payment_id', 'row_checks') }}
),
{%- endif %}

screened as (
    {{ rfm_screened_rows('ranked_within_payment_id', 'payment_id', [
        'payment_id', 'user_id', 'payment_date', 'payment_amount',
    ]) }}
)

select * from screened
