{#-
    The features of the statistical segments, one row per (snapshot_period, user_id): the RFM of
    the history, tenure, AUM per day and the enrichment attributes, and the log-transformed
    inputs of the k-means model (ln(1 + x); `rfm clusters` standardises them and stores the
    scaler, cluster_assignments applies it). The latest period only, or every period with var
    cluster_all_periods. Without dim_users the attributes are null; without any balance,
    aum_per_day and its log are null (and the model leaves the feature out).
-#}
{{ config(indexes=rfm_unique_index(['snapshot_period', 'user_id'])) }}
{%- set all_periods = segment_bool_var('cluster_all_periods', false) %}

with

all_history as (
    select * from {{ ref('rfm_segments_history') }}
),

-- from the table itself, not the CTE: a CTE read twice is materialized whole by PostgreSQL
latest_period as (
    select max(snapshot_period) as snapshot_period
    from {{ ref('rfm_segments_history') }}
),

history as (
    select all_history.*
    from all_history
    inner join latest_period
        on
            all_history.snapshot_period = latest_period.snapshot_period
            or {{ 1 if all_periods else 0 }} = 1
),

users as (
    select * from {{ ref('stg_enrichment__users') }}
),

balances as (
    select * from {{ ref('stg_enrichment__balances') }}
),

balances_present as (
    select count(*) as balance_rows
    from balances
),

balances_per_snapshot as (
    select
        history.snapshot_period,
        history.user_id,
        sum(balances.aum) as aum,
        min(balances.start_date) as first_start_date
    from history
    inner join balances
        on
            history.user_id = balances.user_id
            and balances.start_date <= cast(history.snapshot_at as date)
    group by 1, 2
),

raw_features as (
    select
        history.snapshot_period,
        history.user_id,
        history.rfm_segment,
        history.recency_days,
        history.frequency,
        history.monetary,
        cast(
            {{ dbt.datediff('cast(history.first_payment_at as date)',
                            'cast(history.snapshot_at as date)', 'day') }}
            as {{ dbt.type_int() }}
        ) as tenure_days,
        case
            when balances_present.balance_rows = 0 then null
            when balances_per_snapshot.aum is null then 0.0
            else
                cast(balances_per_snapshot.aum as {{ rfm_type('double') }})
                / case
                    when {{ dbt.datediff('balances_per_snapshot.first_start_date',
                                         'cast(history.snapshot_at as date)', 'day') }} < 1
                        then 1
                    else {{ dbt.datediff('balances_per_snapshot.first_start_date',
                                         'cast(history.snapshot_at as date)', 'day') }}
                end
        end as aum_per_day,
        cast(
            {{ dbt.datediff('users.signup_date', 'cast(history.snapshot_at as date)', 'day') }}
            as {{ dbt.type_int() }}
        ) as days_since_signup,
        users.country,
        users.acquisition_channel,
        users.age_band
    from history
    cross join balances_present
    left join balances_per_snapshot
        on
            history.snapshot_period = balances_per_snapshot.snapshot_period
            and history.user_id = balances_per_snapshot.user_id
    left join users
        on history.user_id = users.user_id
),

final as (
    select
        snapshot_period,
        user_id,
        rfm_segment,
        recency_days,
        frequency,
        monetary,
        tenure_days,
        cast(aum_per_day as {{ rfm_type('double') }}) as aum_per_day,
        days_since_signup,
        country,
        acquisition_channel,
        age_band,
        ln(1.0 + cast(recency_days as {{ rfm_type('double') }})) as log_recency_days,
        ln(1.0 + cast(frequency as {{ rfm_type('double') }})) as log_frequency,
        ln(1.0 + cast(monetary as {{ rfm_type('double') }})) as log_monetary,
        ln(1.0 + cast(tenure_days as {{ rfm_type('double') }})) as log_tenure_days,
        ln(1.0 + cast(aum_per_day as {{ rfm_type('double') }})) as log_aum_per_day
    from raw_features
)

select * from final
