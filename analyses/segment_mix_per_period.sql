-- Segment mix over time: users and share of each segment, period by period ("how many
-- Champions did we have each month?"). Compile with `dbt compile`, then paste the SQL from
-- target/compiled/rfm_segmentation/analyses/ into the BI tool.

with

summary as (
    select * from {{ ref('rfm_segment_summary') }}
)

select
    snapshot_period,
    rfm_segment,
    users,
    share_of_users
from summary
order by snapshot_period asc, users desc
