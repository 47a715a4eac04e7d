{#-
    What over-indexes in each segment of the latest period, for both segmentations: the R x F
    segments ('rfm') and the k-means clusters ('cluster', empty before the first `rfm clusters`).
    Per segment and feature: the segment's mean against the rest of the users and the whole
    population, the index (100 x segment / population), a test of segment vs rest and its
    Benjamini-Hochberg adjusted p-value within the segmentation. Numeric features: Welch's t
    (p-value through the normal approximation of macro segment_t_to_z); categories (one row per
    attribute value): the two-proportion z test with the pooled share. Variances come from sums
    of deviations from the population mean (numerically stable). See docs/clusters.md.
-#}
{#- its joins hash the latest period's features: at the server's default work_mem they spill
    to disk -#}
{{ config(pre_hook=rfm_session_tuning()) }}
{%- set fdr = segment_fdr_var() %}
{%- set numeric_features = [
    ('recency_days', 'behaviour'),
    ('frequency', 'behaviour'),
    ('monetary', 'behaviour'),
    ('tenure_days', 'behaviour'),
    ('aum_per_day', 'behaviour'),
    ('days_since_signup', 'attribute'),
] %}
{%- set category_features = ['country', 'acquisition_channel', 'age_band'] %}

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
        {%- for feature, kind in numeric_features %}
        {{- ',' }}
        cast(features.{{ feature }} as {{ rfm_type('double') }}) as {{ feature }}
        {%- endfor %}
        {%- for feature in category_features %}
        {{- ',' }}
        features.{{ feature }}
        {%- endfor %}
    from memberships
    inner join features
        on memberships.user_id = features.user_id
),

population_means as (
    select
        segmentation
        {%- for feature, kind in numeric_features %}
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
        {%- for feature, kind in numeric_features %}
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

-- unpivoted: one row per (segmentation, segment, feature) with a value
numeric_segments as (
    {%- for feature, kind in numeric_features %}
    select
        segment_sums.segmentation,
        segment_sums.segment,
        '{{ feature }}' as feature_name,
        '{{ kind }}' as feature_kind,
        segment_sums.{{ feature }}__users as segment_users,
        population_means.{{ feature }} as population_mean,
        segment_sums.{{ feature }}__deviation_sum as deviation_sum,
        segment_sums.{{ feature }}__deviation_square_sum as deviation_square_sum
    from segment_sums
    inner join population_means
        on segment_sums.segmentation = population_means.segmentation
    where segment_sums.{{ feature }}__users > 0
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

numeric_population as (
    select
        segmentation,
        feature_name,
        sum(segment_users) as population_users,
        sum(deviation_sum) as deviation_sum,
        sum(deviation_square_sum) as deviation_square_sum
    from numeric_segments
    group by 1, 2
),

numeric_moments as (
    select
        numeric_segments.segmentation,
        numeric_segments.segment,
        numeric_segments.feature_name,
        numeric_segments.feature_kind,
        numeric_segments.segment_users,
        numeric_population.population_users - numeric_segments.segment_users as rest_users,
        numeric_segments.population_mean,
        numeric_segments.population_mean
        + numeric_segments.deviation_sum / numeric_segments.segment_users as segment_mean,
        case
            when numeric_population.population_users > numeric_segments.segment_users
                then numeric_segments.population_mean
                    + (numeric_population.deviation_sum - numeric_segments.deviation_sum)
                    / (numeric_population.population_users - numeric_segments.segment_users)
        end as rest_mean,
        case
            when numeric_segments.segment_users > 1
                then (
                    numeric_segments.deviation_square_sum
                    - numeric_segments.deviation_sum * numeric_segments.deviation_sum
                    / numeric_segments.segment_users
                ) / (numeric_segments.segment_users - 1)
        end as segment_variance,
        case
            when numeric_population.population_users - numeric_segments.segment_users > 1
                then (
                    (
                        numeric_population.deviation_square_sum
                        - numeric_segments.deviation_square_sum
                    )
                    - (numeric_population.deviation_sum - numeric_segments.deviation_sum)
                    * (numeric_population.deviation_sum - numeric_segments.deviation_sum)
                    / (numeric_population.population_users - numeric_segments.segment_users)
                ) / (numeric_population.population_users - numeric_segments.segment_users - 1)
        end as rest_variance
    from numeric_segments
    inner join numeric_population
        on
            numeric_segments.segmentation = numeric_population.segmentation
            and numeric_segments.feature_name = numeric_population.feature_name
),

numeric_standard_errors as (
    select
        *,
        case when segment_variance > 0 then segment_variance else 0.0 end
        / segment_users as segment_term,
        case when rest_variance > 0 then rest_variance else 0.0 end
        / rest_users as rest_term
    from numeric_moments
    where segment_variance is not null and rest_variance is not null
),

welch_tests as (
    select
        segmentation,
        segment,
        feature_name,
        cast(null as {{ rfm_type('text') }}) as category,
        feature_kind,
        'welch_t' as test_name,
        segment_users,
        rest_users,
        segment_mean,
        rest_mean,
        population_mean,
        case
            when segment_term + rest_term > 0
                then (segment_mean - rest_mean) / sqrt(segment_term + rest_term)
        end as test_statistic,
        case
            when segment_term * segment_term / (segment_users - 1)
                + rest_term * rest_term / (rest_users - 1) > 0
                then (segment_term + rest_term) * (segment_term + rest_term)
                    / (
                        segment_term * segment_term / (segment_users - 1)
                        + rest_term * rest_term / (rest_users - 1)
                    )
        end as degrees_of_freedom
    from numeric_standard_errors
),

category_member_values as (
    {%- for feature in category_features %}
    select
        segmentation,
        segment,
        '{{ feature }}' as feature_name,
        {{ feature }} as category
    from member_features
    where {{ feature }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

attribute_population as (
    select
        segmentation,
        feature_name,
        count(*) as population_users
    from category_member_values
    group by 1, 2
),

category_population as (
    select
        segmentation,
        feature_name,
        category,
        count(*) as category_users
    from category_member_values
    group by 1, 2, 3
),

attribute_segments as (
    select
        segmentation,
        segment,
        feature_name,
        count(*) as segment_users
    from category_member_values
    group by 1, 2, 3
),

category_segments as (
    select
        segmentation,
        segment,
        feature_name,
        category,
        count(*) as segment_category_users
    from category_member_values
    group by 1, 2, 3, 4
),

{# every (segment, category) pair, 0 users included: an absent category under-indexes #}
category_shares as (
    select
        attribute_segments.segmentation,
        attribute_segments.segment,
        attribute_segments.feature_name,
        category_population.category,
        attribute_segments.segment_users,
        attribute_population.population_users - attribute_segments.segment_users as rest_users,
        cast(coalesce(category_segments.segment_category_users, 0) as {{ rfm_type('double') }})
        / attribute_segments.segment_users as segment_mean,
        case
            when attribute_population.population_users > attribute_segments.segment_users
                then cast(
                        category_population.category_users
                        - coalesce(category_segments.segment_category_users, 0)
                        as {{ rfm_type('double') }}
                    ) / (attribute_population.population_users - attribute_segments.segment_users)
        end as rest_mean,
        cast(category_population.category_users as {{ rfm_type('double') }})
        / attribute_population.population_users as population_mean
    from attribute_segments
    inner join attribute_population
        on
            attribute_segments.segmentation = attribute_population.segmentation
            and attribute_segments.feature_name = attribute_population.feature_name
    inner join category_population
        on
            attribute_segments.segmentation = category_population.segmentation
            and attribute_segments.feature_name = category_population.feature_name
    left join category_segments
        on
            attribute_segments.segmentation = category_segments.segmentation
            and attribute_segments.segment = category_segments.segment
            and attribute_segments.feature_name = category_segments.feature_name
            and category_population.category = category_segments.category
),

proportion_tests as (
    select
        segmentation,
        segment,
        feature_name,
        category,
        'attribute' as feature_kind,
        'two_proportion_z' as test_name,
        segment_users,
        rest_users,
        segment_mean,
        rest_mean,
        population_mean,
        case
            when rest_users > 0 and population_mean > 0 and population_mean < 1
                then (segment_mean - rest_mean) / sqrt(
                        population_mean * (1.0 - population_mean)
                        * (1.0 / segment_users + 1.0 / rest_users)
                    )
        end as test_statistic,
        cast(null as {{ rfm_type('double') }}) as degrees_of_freedom
    from category_shares
),

all_tests as (
    select
        *,
        case
            when test_name = 'welch_t' and degrees_of_freedom is not null
                then {{ segment_normal_two_sided_p(segment_t_to_z('test_statistic',
                                                                  'degrees_of_freedom')) }}
            when test_name = 'two_proportion_z'
                then {{ segment_normal_two_sided_p('test_statistic') }}
        end as p_value
    from (
        select * from welch_tests
        union all
        select * from proportion_tests
    ) as tests
),

{# Benjamini-Hochberg within each segmentation: p_(i) x m / i, then the running minimum from
    the largest p-value down, capped at 1 #}
ranked_tests as (
    select
        *,
        count(*) over (partition by segmentation) as tests_in_family,
        row_number() over (
            partition by segmentation
            order by p_value, segment, feature_name, category
        ) as p_value_rank
    from all_tests
    where p_value is not null
),

adjusted_tests as (
    select
        *,
        min(p_value * tests_in_family / p_value_rank) over (
            partition by segmentation
            order by p_value_rank desc
            rows between unbounded preceding and current row
        ) as bh_value
    from ranked_tests
),

untested as (
    select
        *,
        cast(null as {{ rfm_type('double') }}) as p_value_adjusted
    from all_tests
    where p_value is null
),

final as (
    select
        segmentation,
        segment,
        feature_name,
        category,
        feature_kind,
        test_name,
        cast(segment_users as {{ dbt.type_bigint() }}) as segment_users,
        cast(rest_users as {{ dbt.type_bigint() }}) as rest_users,
        cast(segment_mean as {{ rfm_type('double') }}) as segment_mean,
        cast(rest_mean as {{ rfm_type('double') }}) as rest_mean,
        cast(population_mean as {{ rfm_type('double') }}) as population_mean,
        cast(
            case when population_mean <> 0 then 100.0 * segment_mean / population_mean end
            as {{ rfm_type('double') }}
        ) as index_vs_population,
        cast(test_statistic as {{ rfm_type('double') }}) as test_statistic,
        cast(degrees_of_freedom as {{ rfm_type('double') }}) as degrees_of_freedom,
        cast(p_value as {{ rfm_type('double') }}) as p_value,
        cast(p_value_adjusted as {{ rfm_type('double') }}) as p_value_adjusted,
        coalesce(p_value_adjusted < {{ fdr }}, false) as is_significant
    from (
        select
            segmentation,
            segment,
            feature_name,
            category,
            feature_kind,
            test_name,
            segment_users,
            rest_users,
            segment_mean,
            rest_mean,
            population_mean,
            test_statistic,
            degrees_of_freedom,
            p_value,
            case when bh_value > 1 then 1.0 else bh_value end as p_value_adjusted
        from adjusted_tests
        union all
        select
            segmentation,
            segment,
            feature_name,
            category,
            feature_kind,
            test_name,
            segment_users,
            rest_users,
            segment_mean,
            rest_mean,
            population_mean,
            test_statistic,
            degrees_of_freedom,
            p_value,
            p_value_adjusted
        from untested
    ) as profiles
)

select * from final
