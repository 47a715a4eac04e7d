-- How many users were in each segment, period by period ("how many Champions did we have each
-- month?"). Paste the compiled SQL (target/compiled/.../analyses/) into your BI tool.

with

history as (
    select * from {{ ref('rfm_segments_history') }}
)

select
    snapshot_period,
    rfm_segment,
    count(*) as users
from history
group by 1, 2
order by 1, 2
