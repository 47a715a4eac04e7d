{#-
    'Predict' of the k-means model in SQL: every user of cluster_features (the latest period, or
    every period with var cluster_all_periods) in the nearest centroid of the latest stored model
    version, by Euclidean distance in standardised units ((value - feature_mean) /
    feature_scale), ties to the smallest cluster_id. Plain joins and aggregates: portable to
    every engine. Equals scikit-learn's KMeans.predict on the same rows
    (tests/python/test_clusters_warehouse.py). No rows before the first `rfm clusters`.
-#}

with

features as (
    select * from {{ ref('cluster_features') }}
),

scaler as (
    select * from {{ ref('stg_cluster_model__scaler') }}
),

centroids as (
    select * from {{ ref('stg_cluster_model__centroids') }}
),

clusters as (
    select * from {{ ref('stg_cluster_model__clusters') }}
),

model_features as (
    select count(*) as features_in_model
    from scaler
),

{# the model's inputs as (row, feature, value): only those in the scaler are kept below #}
feature_values as (
    {%- for feature in ['log_recency_days', 'log_frequency', 'log_monetary',
                        'log_tenure_days', 'log_aum_per_day'] %}
    select
        snapshot_period,
        user_id,
        '{{ feature }}' as feature_name,
        {{ feature }} as feature_value
    from features
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

standardised as (
    select
        feature_values.snapshot_period,
        feature_values.user_id,
        scaler.model_version,
        scaler.feature_name,
        (feature_values.feature_value - scaler.feature_mean) / scaler.feature_scale as z
    from feature_values
    inner join scaler
        on feature_values.feature_name = scaler.feature_name
    where feature_values.feature_value is not null
),

squared_distances as (
    select
        standardised.snapshot_period,
        standardised.user_id,
        centroids.model_version,
        centroids.cluster_id,
        sum(
            (standardised.z - centroids.centroid) * (standardised.z - centroids.centroid)
        ) as squared_distance,
        count(*) as features_used
    from standardised
    inner join centroids
        on
            standardised.model_version = centroids.model_version
            and standardised.feature_name = centroids.feature_name
    group by 1, 2, 3, 4
),

ranked as (
    select
        squared_distances.*,
        row_number() over (
            partition by squared_distances.snapshot_period, squared_distances.user_id
            order by squared_distances.squared_distance, squared_distances.cluster_id
        ) as distance_rank
    from squared_distances
    cross join model_features
    {# a row with a missing input is not assigned (cannot happen with the stored features) #}
    where squared_distances.features_used = model_features.features_in_model
),

final as (
    select
        ranked.snapshot_period,
        ranked.user_id,
        ranked.model_version,
        ranked.cluster_id,
        clusters.cluster_name,
        sqrt(ranked.squared_distance) as distance_to_centroid
    from ranked
    inner join clusters
        on
            ranked.model_version = clusters.model_version
            and ranked.cluster_id = clusters.cluster_id
    where ranked.distance_rank = 1
)

select * from final
