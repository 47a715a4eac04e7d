{#- SQL: the CTEs that compute every computed trait (rfm_computed_traits) per row of `subjects`,
    ending with the CTE `traits`: the grain columns, profile_id, snapshot_at (= cut_at) and one
    column per trait (docs/identity.md, "Computed traits").

    `subjects` is a CTE with the `grain` columns, `profile_id` (null: no profile, every trait
    null) and `cut_at`: only the events and payments before it count, and the windows end at it.
    The CTEs `profile_events` (profile_id, event_id, occurred_at, event_name and the properties)
    and `profile_payments` (profile_id, payment_date, payment_amount) must precede.

    One pass over the events joined to the subjects computes every counter, sum, min, max,
    average, distinct count, and first / last of occurred_at (its min / max), as conditional
    aggregates. A first / last of another property ranks the trait's events (latest last: the
    largest occurred_at, then event_id in byte order; first: the smallest), a most frequent value
    ranks the trait's values (most events, then the smallest value). A sum that includes
    payments adds the clean payments in the window and removes the events matched to one (same
    profile, instant and amount, counted pair by pair). -#}
{% macro rfm_trait_ctes(traits, grain, subjects='subjects') -%}
{%- set aggregated = [] -%}
{%- set ranked = [] -%}
{%- for trait in traits -%}
    {%- if trait.trait_kind in ('first', 'last') and trait.property != 'occurred_at'
        or trait.trait_kind == 'most_frequent' -%}
        {%- do ranked.append(trait) -%}
    {%- else -%}
        {%- do aggregated.append(trait) -%}
    {%- endif -%}
{%- endfor -%}
{%- set by_grain = grain | join(', ') %}
subject_events as (
    select
        {%- for column in grain %}
        {{ subjects }}.{{ column }},
        {%- endfor %}
        {{ subjects }}.cut_at,
        profile_events.event_id,
        profile_events.occurred_at,
        profile_events.event_name,
        profile_events.revenue,
        profile_events.product_id
    from {{ subjects }}
    inner join profile_events
        on
            {{ subjects }}.profile_id = profile_events.profile_id
            and profile_events.occurred_at < {{ subjects }}.cut_at
),

trait_aggregates as (
    select
        {%- for column in grain %}
        {{ column }},
        {%- endfor %}
        {%- for trait in aggregated %}
        {{ rfm_trait_aggregate(trait) }} as {{ trait.trait_name }},
        {%- endfor %}
        count(*) as trait_events
    from subject_events
    group by {{ by_grain }}
),
{%- for trait in ranked %}
{%- set value = rfm_trait_value_order(trait, 'trait_value') %}
{%- if trait.trait_kind == 'most_frequent' %}

{{ trait.trait_name }}__values as (
    select
        {{ by_grain }},
        {{ trait.property }} as trait_value,
        count(*) as value_events
    from subject_events
    where {{ rfm_trait_condition(trait) }} and {{ trait.property }} is not null
    group by {{ by_grain }}, {{ trait.property }}
),

{{ trait.trait_name }}__ranked as (
    select
        {{ by_grain }},
        trait_value,
        row_number() over (
            partition by {{ by_grain }} order by value_events desc, {{ value }}
        ) as value_rank
    from {{ trait.trait_name }}__values
),
{%- else %}
{%- set direction = 'desc' if trait.trait_kind == 'last' else 'asc' %}

{{ trait.trait_name }}__ranked as (
    select
        {{ by_grain }},
        {{ trait.property }} as trait_value,
        row_number() over (
            partition by {{ by_grain }}
            order by
                occurred_at {{ direction }},
                {{ rfm_text_in_byte_order('event_id') }} {{ direction }}
        ) as value_rank
    from subject_events
    where {{ rfm_trait_condition(trait) }} and {{ trait.property }} is not null
),
{%- endif %}
{%- endfor %}
{%- for trait in traits if trait.includes_payments %}

{{ trait.trait_name }}__payment_keys as (
    select
        {%- for column in grain %}
        {{ subjects }}.{{ column }},
        {%- endfor %}
        profile_payments.payment_date,
        profile_payments.payment_amount,
        count(*) as payments
    from {{ subjects }}
    inner join profile_payments
        on
            {{ subjects }}.profile_id = profile_payments.profile_id
            and profile_payments.payment_date < {{ subjects }}.cut_at
            {%- if trait.window_days is not none %}
            and profile_payments.payment_date
            >= {{ dbt.dateadd('day', -trait.window_days, subjects ~ '.cut_at') }}
            {%- endif %}
    group by
        {%- for column in grain %}
        {{ subjects }}.{{ column }},
        {%- endfor %}
        profile_payments.payment_date,
        profile_payments.payment_amount
),

{{ trait.trait_name }}__event_keys as (
    select
        {{ by_grain }},
        occurred_at,
        revenue,
        count(*) as events
    from subject_events
    where {{ rfm_trait_condition(trait) }} and revenue is not null
    group by {{ by_grain }}, occurred_at, revenue
),

{{ trait.trait_name }}__payments as (
    select
        payment_keys.{{ grain | join(', payment_keys.') }},
        sum(payment_keys.payment_amount * payment_keys.payments) as paid,
        sum(
            case
                when event_keys.events is not null
                    then payment_keys.payment_amount
                    * least(payment_keys.payments, event_keys.events)
                else 0
            end
        ) as matched
    from {{ trait.trait_name }}__payment_keys as payment_keys
    left join {{ trait.trait_name }}__event_keys as event_keys
        on
            {%- for column in grain %}
            payment_keys.{{ column }} = event_keys.{{ column }}
            and
            {%- endfor %}
            payment_keys.payment_date = event_keys.occurred_at
            and payment_keys.payment_amount = event_keys.revenue
    group by payment_keys.{{ grain | join(', payment_keys.') }}
),
{%- endfor %}

traits as (
    select
        {%- for column in grain %}
        {{ subjects }}.{{ column }},
        {%- endfor %}
        {%- if 'profile_id' not in grain %}
        {{ subjects }}.profile_id,
        {%- endif %}
        {{ subjects }}.cut_at as snapshot_at
        {%- for trait in traits -%},
        {{ rfm_trait_final_value(trait, subjects) }} as {{ trait.trait_name }}
        {%- endfor %}
    from {{ subjects }}
    left join trait_aggregates
        on {{ rfm_trait_grain_equal(grain, subjects, 'trait_aggregates') }}
    {%- for trait in ranked %}
    left join {{ trait.trait_name }}__ranked
        on
            {{ rfm_trait_grain_equal(grain, subjects, trait.trait_name ~ '__ranked') }}
            and {{ trait.trait_name }}__ranked.value_rank = 1
    {%- endfor %}
    {%- for trait in traits if trait.includes_payments %}
    left join {{ trait.trait_name }}__payments
        on {{ rfm_trait_grain_equal(grain, subjects, trait.trait_name ~ '__payments') }}
    {%- endfor %}
)
{%- endmacro %}


{#- SQL: true for an event of subject_events that a trait counts (its event name, its window
    before cut_at). -#}
{% macro rfm_trait_condition(trait) -%}
    {%- set parts = [] -%}
    {%- if trait.event_name is not none -%}
        {%- do parts.append('event_name = ' ~ rfm_sql_string(trait.event_name)) -%}
    {%- endif -%}
    {%- if trait.window_days is not none -%}
        {%- do parts.append(
            'occurred_at >= ' ~ dbt.dateadd('day', -trait.window_days, 'cut_at')
        ) -%}
    {%- endif -%}
    {{- '(' ~ (parts | join(' and ') if parts else 'event_id is not null') ~ ')' -}}
{%- endmacro %}


{#- SQL: the conditional aggregate of a trait computed in the one pass over the events. -#}
{% macro rfm_trait_aggregate(trait) -%}
    {%- set condition = rfm_trait_condition(trait) -%}
    {%- set value = 'case when ' ~ condition ~ ' then ' ~ trait.property ~ ' end' -%}
    {%- if trait.trait_kind == 'counter' -%}
        count(case when {{ condition }} then 1 end)
    {%- elif trait.trait_kind == 'distinct_count' -%}
        count(distinct {{ value }})
    {%- elif trait.trait_kind == 'sum' -%}
        sum({{ value }})
    {%- elif trait.trait_kind == 'average' -%}
        avg({{ value }})
    {%- elif trait.trait_kind in ('min', 'first') -%}
        min({{ value }})
    {%- else -%}
        max({{ value }})
    {%- endif -%}
{%- endmacro %}


{#- SQL: the order of a ranked trait's values (text in byte order). -#}
{% macro rfm_trait_value_order(trait, expression) -%}
    {%- if trait.property == 'product_id' -%}
        {{ rfm_text_in_byte_order(expression) }}
    {%- else -%}
        {{ expression }}
    {%- endif -%}
{%- endmacro %}


{#- SQL: the trait's value in the CTE traits, typed; null without a profile. Counters, distinct
    counts and sums are 0 for a profile without a matching event, the others null. -#}
{% macro rfm_trait_final_value(trait, subjects) -%}
    {%- set name = trait.trait_name -%}
    {%- if trait.trait_kind in ('counter', 'distinct_count', 'sum') -%}
        {%- set value = 'coalesce(trait_aggregates.' ~ name ~ ', 0)' -%}
        {%- if trait.includes_payments -%}
            {%- set value = value ~ ' + coalesce(' ~ name ~ '__payments.paid, 0) - coalesce('
                ~ name ~ '__payments.matched, 0)' -%}
        {%- endif -%}
        {%- set value = 'case when ' ~ subjects ~ '.profile_id is not null then ' ~ value ~ ' end' -%}
    {%- elif trait.trait_kind in ('first', 'last') and trait.property != 'occurred_at'
        or trait.trait_kind == 'most_frequent' -%}
        {%- set value = name ~ '__ranked.trait_value' -%}
    {%- else -%}
        {%- set value = 'trait_aggregates.' ~ name -%}
    {%- endif -%}
    cast({{ value }} as {{ trait.data_type }})
{%- endmacro %}


{#- SQL: the grain columns of two relations are equal. -#}
{% macro rfm_trait_grain_equal(grain, left, right) -%}
    {%- for column in grain -%}
        {{ left }}.{{ column }} = {{ right }}.{{ column }}{{ ' and ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
