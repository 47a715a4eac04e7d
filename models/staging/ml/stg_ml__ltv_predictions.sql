{#-
    The lifetime-value predictions written by `rfm ltv` (source ml.ltv_predictions), typed.
    The source table exists only after the first `rfm ltv`: the relation is looked up at compile
    time, and when it is missing this view is empty with the same columns, so that a fresh
    `dbt build` (before any training) still builds rfm_segments_current, with null predictions.
    `rfm ltv` rebuilds this view and its children once it has written the table.
-#}
{{- rfm_check_schema_var('ltv_schema', 'ml') -}}
{%- set predictions_source = source('ml', 'ltv_predictions') %}

with

{% if rfm_relation_exists(predictions_source) -%}
predictions as (
    select
        user_id,
        predicted_revenue,
        predicted_payments,
        horizon_periods,
        as_of,
        model,
        trained_at
    from {{ predictions_source }}
),
{%- else -%}
-- no predictions yet: no rows, same columns (typed once, in final)
predictions as (
    select
        null as user_id,
        null as predicted_revenue,
        null as predicted_payments,
        null as horizon_periods,
        null as as_of,
        null as model,  -- noqa: RF04
        null as trained_at
    where 1 = 0
),
{%- endif %}

final as (
    select
        cast(user_id as {{ rfm_type('text') }}) as user_id,
        cast(predicted_revenue as {{ rfm_type('double') }}) as predicted_revenue,
        cast(predicted_payments as {{ rfm_type('double') }}) as predicted_payments,
        cast(horizon_periods as {{ dbt.type_int() }}) as horizon_periods,
        cast(as_of as {{ dbt.type_timestamp() }}) as as_of,
        cast(model as {{ rfm_type('text') }}) as ltv_model,
        cast(trained_at as {{ dbt.type_timestamp() }}) as trained_at
    from predictions
)

select * from final
