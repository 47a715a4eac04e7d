{#-
    The sums segment_profiles tests, per segmentation ('rfm', 'cluster'), segment and feature of
    the latest period: for a numeric feature (category null) the users with a value, the
    population mean and the sums of deviations from it (and of their squares); for an attribute,
    the users of each category. A few hundred rows: the one pass over the users' features, so
    that the statistics downstream read a small table (on Spark, where a CTE read twice is
    computed twice, the tests over one model of the users took minutes on any data).
-#}
{#- its joins hash the latest period's features: at the server's default work_mem they spill
    to disk -#}
{{ config(materialized='table', pre_hook=rfm_session_tuning()) }}
-- depends_on: {{ ref('computed_traits') }}, {{ ref('identity_event_names') }}
{#- (name, kind, value): the users' features, then the computed traits of the latest snapshot
    (rfm_user_traits; null for a user without a profile; none with rfm_events false): a number
    as it is, an instant as the days from it to the snapshot, a text as a category -#}
{%- set events = rfm_events() %}
{%- set numeric_features = [
    ('recency_days', 'behaviour', 'features.recency_days'),
    ('frequency', 'behaviour', 'features.frequency'),
    ('monetary', 'behaviour', 'features.monetary'),
    ('tenure_days', 'behaviour', 'features.tenure_days'),
    ('aum_per_day', 'behaviour', 'features.aum_per_day'),
    ('days_since_signup', 'attribute', 'features.days_since_signup'),
] %}
{#- a category's value is a column named like the feature -#}
{%- set category_features = [
    ('country', 'attribute', 'features.country'),
    ('acquisition_channel', 'attribute', 'features.acquisition_channel'),
    ('age_band', 'attribute', 'features.age_band'),
] %}
{%- for trait in (rfm_computed_traits() if events else []) %}
    {%- set column = 'user_traits.' ~ trait.trait_name %}
    {%- if trait.data_type == rfm_type('text') %}
        {%- do category_features.append((trait.trait_name, 'trait', column)) %}
    {%- elif trait.data_type == dbt.type_timestamp() %}
        {%- do numeric_features.append((
            trait.trait_name ~ '_days_ago', 'trait',
            dbt.datediff(column, 'user_traits.snapshot_at', 'day'),
        )) %}
    {%- else %}
        {%- do numeric_features.append((trait.trait_name, 'trait', column)) %}
    {%- endif %}
{%- endfor %}

with

all_features as (
    select * from {{ ref('cluster_features') }}
),

latest_period as (
    select max(snapshot_period) as snapshot_period
    from all_features
),

features as (
    select all_features.*
    from all_features
    inner join latest_period
        on all_features.snapshot_period = latest_period.snapshot_period
),

assignments as (
    select * from {{ ref('cluster_assignments') }}
),

{%- if events %}

user_traits as (
    select user_traits.*
    from {{ ref('rfm_user_traits') }} as user_traits
    inner join latest_period
        on user_traits.snapshot_period = latest_period.snapshot_period
),
{%- endif %}

memberships as (
    select
        'rfm' as segmentation,
        rfm_segment as segment,
        user_id
    from features
    union all
    select
        'cluster' as segmentation,
        assignments.cluster_name as segment,
        assignments.user_id
    from assignments
    inner join features
        on
            assignments.snapshot_period = features.snapshot_period
            and assignments.user_id = features.user_id
),

-- every feature as a column, one row per user and segmentation (the one join of the members
-- to their features): the numeric sums are two hash aggregates over these rows, unpivoted only
-- once summed per segment (unpivoting every user's values first would sort them twice)
member_features as (
    select
        memberships.segmentation,
        memberships.segment
        {%- for feature, kind, value in numeric_features %}
        {{- ',' }}
        cast({{ value }} as {{ rfm_type('double') }}) as {{ feature }}
        {%- endfor %}
        {%- for feature, kind, value in category_features %}
        {{- ',' }}
        {{ value }}
        {%- endfor %}
    from memberships
    inner join features
        on memberships.user_id = features.user_id
    {%- if events %}
    -- read by the trait features (none without the seed's traits)
    left join user_traits  -- noqa: ST11
        on memberships.user_id = user_traits.user_id
    {%- endif %}
),

population_means as (
    select
        segmentation
        {%- for feature, kind, value in numeric_features %}
        {{- ',' }}
        avg({{ feature }}) as {{ feature }}
        {%- endfor %}
    from member_features
    group by 1
),

segment_sums as (
    select
        member_features.segmentation,
        member_features.segment
        {%- for feature, kind, value in numeric_features %}
        {%- set deviation = '(member_features.' ~ feature
            ~ ' - population_means.' ~ feature ~ ')' %}
        {{- ',' }}
        count(member_features.{{ feature }}) as {{ feature }}__users,
        sum({{ deviation }}) as {{ feature }}__deviation_sum,
        sum({{ deviation }} * {{ deviation }}) as {{ feature }}__deviation_square_sum
        {%- endfor %}
    from member_features
    inner join population_means
        on member_features.segmentation = population_means.segmentation
    group by 1, 2
),

-- the features as rows, to unpivot the sums (and the members' categories) in one pass
numeric_feature_names as (
    {%- for feature, kind, value in numeric_features %}
    select
        '{{ feature }}' as feature_name,
        '{{ kind }}' as feature_kind
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

category_feature_names as (
    {%- for feature, kind, value in category_features %}
    select
        '{{ feature }}' as feature_name,
        '{{ kind }}' as feature_kind
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

numeric_segments as (
    select
        segment_sums.segmentation,
        segment_sums.segment,
        numeric_feature_names.feature_name,
        numeric_feature_names.feature_kind,
        case numeric_feature_names.feature_name
            {%- for feature, kind, value in numeric_features %}
            when '{{ feature }}' then segment_sums.{{ feature }}__users
            {%- endfor %}
        end as segment_users,
        case numeric_feature_names.feature_name
            {%- for feature, kind, value in numeric_features %}
            when '{{ feature }}' then population_means.{{ feature }}
            {%- endfor %}
        end as population_mean,
        case numeric_feature_names.feature_name
            {%- for feature, kind, value in numeric_features %}
            when '{{ feature }}' then segment_sums.{{ feature }}__deviation_sum
            {%- endfor %}
        end as deviation_sum,
        case numeric_feature_names.feature_name
            {%- for feature, kind, value in numeric_features %}
            when '{{ feature }}' then segment_sums.{{ feature }}__deviation_square_sum
            {%- endfor %}
        end as deviation_square_sum
    from segment_sums
    inner join population_means
        on segment_sums.segmentation = population_means.segmentation
    cross join numeric_feature_names
),

member_categories as (
    select
        member_features.segmentation,
        member_features.segment,
        category_feature_names.feature_name,
        category_feature_names.feature_kind,
        case category_feature_names.feature_name
            {%- for feature, kind, value in category_features %}
            when '{{ feature }}' then member_features.{{ feature }}
            {%- endfor %}
        end as category
    from member_features
    cross join category_feature_names
),

category_segments as (
    select
        segmentation,
        segment,
        feature_name,
        feature_kind,
        category,
        count(*) as segment_users
    from member_categories
    where category is not null
    group by 1, 2, 3, 4, 5
),

final as (
    select
        segmentation,
        segment,
        feature_name,
        feature_kind,
        cast(null as {{ rfm_type('text') }}) as category,
        cast(segment_users as {{ dbt.type_bigint() }}) as segment_users,
        cast(population_mean as {{ rfm_type('double') }}) as population_mean,
        cast(deviation_sum as {{ rfm_type('double') }}) as deviation_sum,
        cast(deviation_square_sum as {{ rfm_type('double') }}) as deviation_square_sum
    from numeric_segments
    where segment_users > 0
    union all
    select
        segmentation,
        segment,
        feature_name,
        feature_kind,
        cast(category as {{ rfm_type('text') }}) as category,
        cast(segment_users as {{ dbt.type_bigint() }}) as segment_users,
        cast(null as {{ rfm_type('double') }}) as population_mean,
        cast(null as {{ rfm_type('double') }}) as deviation_sum,
        cast(null as {{ rfm_type('double') }}) as deviation_square_sum
    from category_segments
)

select * from final
