-- count(raw) = count(clean) + count(rejected) (docs/contract.md, "Cleaning"): nothing is lost
-- or doubled.

with

raw_payments as (
    select count(*) as row_count from {{ source('billing', 'fact_payments') }}
),

clean_payments as (
    select count(*) as row_count
    from {{ ref('stg_billing__payments') }}
    where rejection_reason is null
),

rejected_payments as (
    select count(*) as row_count from {{ ref('payments_rejected') }}
)

select
    raw_payments.row_count as raw_rows,
    clean_payments.row_count as clean_rows,
    rejected_payments.row_count as rejected_rows
from raw_payments
cross join clean_payments
cross join rejected_payments
where raw_payments.row_count <> clean_payments.row_count + rejected_payments.row_count
