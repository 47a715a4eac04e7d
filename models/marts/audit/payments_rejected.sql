{#-
    Every raw payment row that did not make it into the clean payments, with the first reason of
    docs/contract.md that applies. Together with the clean payments it reconciles to the raw table
    (test: assert_payments_reconcile_with_raw).
-#}

with

screened_payments as (
    select * from {{ ref('stg_billing__payments') }}
),

rejected as (
    select
        payment_id,
        user_id,
        payment_date,
        payment_amount,
        rejection_reason
    from screened_payments
    where rejection_reason is not null
)

select * from rejected
