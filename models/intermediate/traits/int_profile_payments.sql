{#-
    The clean payments of the user_ids that belong to a profile of the identity graph, with its
    profile_id: what a computed trait with includes_payments adds (docs/identity.md). A user_id
    seen in no event or identify call has no profile here, and no traits.
-#}
{{ config(enabled=rfm_events()) }}

with

payments as (
    {{ rfm_clean_payments() }}
),

user_profiles as (
    {{ rfm_user_profiles() }}
),

payments_with_profiles as (
    select
        user_profiles.profile_id,
        payments.user_id,
        payments.payment_date,
        payments.payment_amount
    from payments
    inner join user_profiles on payments.user_id = user_profiles.user_id
)

select * from payments_with_profiles
