{#-
    Every raw payment row, ids trimmed, with the first rejection reason of SPEC.md that applies
    (null when the row is clean). Clean payments are the rows with a null rejection_reason;
    the rejected ones are published by payments_rejected. Materialized as a table: it is read by
    the history, by payments_rejected and by the tests, and the duplicate rule needs a sort of
    all payments that should happen once per build.
-#}
{{ config(materialized='table', pre_hook=rfm_session_tuning(), post_hook=rfm_analyze()) }}
{{- rfm_check_raw_schema() }}

with

source_payments as (
    select * from {{ source('billing', 'fact_payments') }}
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

screened as (
    select
        payment_id,
        user_id,
        payment_date,
        payment_amount,
        case
            when row_rejection_reason is not null then row_rejection_reason
            when copy_rank > 1 then 'duplicate_payment_id'
        end as rejection_reason
    from ranked_within_payment_id
)

select * from screened
