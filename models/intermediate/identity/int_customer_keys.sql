{#-
    With var rfm_identity = 'profile' (docs/identity.md, "Customers by profile"): every user_id
    with clean payments whose customer is another user_id - the smallest user_id of its profile,
    the one that names it (profile_id = 'user_id:<that user_id>') -, with the period of its first
    clean payment. A user_id without a row is its own customer. The history and the models
    beside it key payments by this table (rfm_customer_payments), and each of them keeps a copy
    of the keys it was built with (rfm_store_customer_keys) to recompute, on its next run, every
    period from the first payment of a user_id whose customer changed.
    Not built with rfm_identity = 'user_id'.
-#}
{{ config(materialized='table', enabled=rfm_events() and rfm_identity() == 'profile') }}

with

user_profiles as (
    {{ rfm_user_profiles() }}
),

-- the user_id that names each profile
profile_names as (
    select
        user_id as customer_key,
        profile_id
    from user_profiles
    where profile_id = {{ dbt.concat(["'user_id:'", "user_id"]) }}
),

customer_keys as (
    select
        user_profiles.user_id,
        profile_names.customer_key
    from user_profiles
    inner join profile_names
        on user_profiles.profile_id = profile_names.profile_id
    where user_profiles.user_id <> profile_names.customer_key
),

first_payments as (
    select
        payments.user_id,
        min(payments.payment_date) as first_payment_at
    from {{ ref('stg_billing__payments') }} as payments
    inner join customer_keys
        on payments.user_id = customer_keys.user_id
    where payments.rejection_reason is null
    group by 1
)

select
    customer_keys.user_id,
    customer_keys.customer_key,
    {{ rfm_period_start('first_payments.first_payment_at') }} as first_payment_period
from customer_keys
inner join first_payments
    on customer_keys.user_id = first_payments.user_id
