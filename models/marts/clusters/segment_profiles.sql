{#-
    What over-indexes in each segment of the latest period, for both segmentations: the R x F
    segments ('rfm') and the k-means clusters ('cluster', empty before the first `rfm clusters`).
    Per segment and feature: the segment's mean against the rest of the users and the whole
    population, the index (100 x segment / population), a test of segment vs rest and its
    Benjamini-Hochberg adjusted p-value within the segmentation. Numeric features: Welch's t
    (p-value through the normal approximation of macro segment_t_to_z); categories (one row per
    attribute value): the two-proportion z test with the pooled share. Variances come from sums
    of deviations from the population mean (numerically stable), summed per segment by
    int_segment_feature_sums. See docs/clusters.md.
-#}
{%- set fdr = segment_fdr_var() %}

with

feature_sums as (
    select * from {{ ref('int_segment_feature_sums') }}
),

numeric_segments as (
    select
        segmentation,
        segment,
        feature_name,
        feature_kind,
        segment_users,
        population_mean,
        deviation_sum,
        deviation_square_sum
    from feature_sums
    where category is null
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

category_segments as (
    select
        segmentation,
        segment,
        feature_name,
        feature_kind,
        category,
        segment_users as segment_category_users
    from feature_sums
    where category is not null
),

attribute_population as (
    select
        segmentation,
        feature_name,
        sum(segment_category_users) as population_users
    from category_segments
    group by 1, 2
),

category_population as (
    select
        segmentation,
        feature_name,
        category,
        sum(segment_category_users) as category_users
    from category_segments
    group by 1, 2, 3
),

attribute_segments as (
    select
        segmentation,
        segment,
        feature_name,
        feature_kind,
        sum(segment_category_users) as segment_users
    from category_segments
    group by 1, 2, 3, 4
),

{# every (segment, category) pair, 0 users included: an absent category under-indexes #}
category_shares as (
    select
        attribute_segments.segmentation,
        attribute_segments.segment,
        attribute_segments.feature_name,
        attribute_segments.feature_kind,
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
        feature_kind,
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

{# Benjamini-Hochberg within each segmentation, over the tests with a p-value (the others
    rank after them and keep a null): p_(i) x m / i, then the running minimum from the largest
    p-value down, capped at 1. One pass over the tests: no union of the tested and the untested
    rows, which would compute the tests twice where a CTE is not materialised (Spark). #}
ranked_tests as (
    select
        *,
        count(p_value) over (partition by segmentation) as tests_in_family,
        row_number() over (
            partition by segmentation
            order by
                case when p_value is null then 1 else 0 end,
                p_value, segment, feature_name, category
        ) as p_value_rank
    from all_tests
),

adjusted_tests as (
    select
        *,
        case
            when p_value is not null
                then min(
                        case
                            when p_value is not null then p_value * tests_in_family / p_value_rank
                        end
                    ) over (
                        partition by segmentation
                        order by p_value_rank desc
                        rows between unbounded preceding and current row
                    )
        end as bh_value
    from ranked_tests
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
    ) as profiles
)

select * from final
