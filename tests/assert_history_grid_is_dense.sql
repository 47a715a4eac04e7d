-- Each user has exactly one row in every period from the period of their first clean payment to
-- the latest period (docs/contract.md: "A user appears in every period from the one of
-- their first clean payment onwards"). Returns the users whose rows do not form that range.
-- A scheduled build checks the periods it recomputed.
{%- set start = rfm_tested_periods_start(ref('rfm_segments_history')) %}

with

history as (
    select * from {{ ref('rfm_segments_history') }}
    where true{{- rfm_tested_periods_filter('snapshot_period', ref('rfm_segments_history')) }}
),

periods as (
    select * from {{ ref('int_rfm_periods') }}
    where
        period_start <= (select max(h.snapshot_period) from {{ ref('rfm_segments_history') }} as h)
    {{- rfm_tested_periods_filter('period_start', ref('rfm_segments_history')) }}
),

rows_per_user as (
    select
        user_id,
        min(snapshot_period) as first_period,
        min({{ rfm_period_start('first_payment_at') }}) as first_payment_period,
        count(*) as user_rows
    from history
    group by 1
),

expected_first_periods as (
    select
        user_id,
        first_period,
        user_rows,
        {%- if start is not none %}
        case
            when first_payment_period >= {{ rfm_date_literal(start) }} then first_payment_period
            else {{ rfm_date_literal(start) }}
        end as expected_first_period
        {%- else %}
        first_payment_period as expected_first_period
        {%- endif %}
    from rows_per_user
),

-- each period with the number of periods from it to the latest: a user whose grid starts there
-- has that many rows (an equality join on a few dozen periods, instead of pairing every user
-- with every later period and counting the pairs, which grows with users x periods)
periods_to_latest as (
    select
        period_start,
        count(*) over (
            order by period_start desc rows between unbounded preceding and current row
        ) as periods_from_here
    from periods
),

periods_per_user as (
    select
        expected_first_periods.user_id,
        periods_to_latest.periods_from_here as expected_rows
    from expected_first_periods
    inner join periods_to_latest
        on expected_first_periods.expected_first_period = periods_to_latest.period_start
)

select
    expected_first_periods.*,
    periods_per_user.expected_rows
from expected_first_periods
left join periods_per_user
    on expected_first_periods.user_id = periods_per_user.user_id
where
    periods_per_user.user_id is null
    or expected_first_periods.user_rows <> periods_per_user.expected_rows
    or expected_first_periods.first_period <> expected_first_periods.expected_first_period
