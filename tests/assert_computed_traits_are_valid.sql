{#-
    Every definition of the seed computed_traits is one the trait models can compute
    (docs/identity.md, "Computed traits"); each failing row names the trait and its problem.
    The same rules, in Jinja, fail the compilation of this test and of the trait models with a
    message naming the trait (macro rfm_computed_trait_problem); the query below says it for
    the rows of a seed table changed behind dbt's back.
-#}
{#- Selected with identity_event_names alone (its other parent), the seed may not be built:
    nothing to check then. -#}
-- depends_on: {{ ref('identity_event_names') }}
{%- set seeded = rfm_relation_exists(ref('computed_traits')) %}
{%- if seeded %}
{%- do rfm_computed_traits() %}

with

traits as (
    select * from {{ ref('computed_traits') }}
),

event_names as (
    select event_name from {{ ref('identity_event_names') }}
),

checked as (
    select
        traits.trait_name,
        case
            when
                traits.trait_kind is null
                or traits.trait_kind not in (
                    'counter', 'sum', 'min', 'max', 'average', 'first', 'last',
                    'most_frequent', 'distinct_count'
                )
                then 'unknown trait_kind'
            when
                traits.event_name is not null and event_names.event_name is null
                then 'event_name not in identity_event_names'
            when
                traits.trait_kind = 'counter' and traits.property is not null
                then 'a counter takes no property'
            when
                traits.trait_kind <> 'counter' and traits.property is null
                then 'the kind needs a property'
            when
                traits.property not in ('revenue', 'product_id', 'occurred_at')
                then 'the events have no such property'
            when
                traits.trait_kind in ('sum', 'average') and traits.property <> 'revenue'
                then 'a sum or average needs a numeric property (revenue)'
            when traits.window_days < 1 then 'window_days must be 1 or more (empty: all time)'
            when traits.includes_payments is null then 'includes_payments must be set'
            when
                traits.includes_payments
                and not (traits.trait_kind = 'sum' and traits.property = 'revenue')
                then 'includes_payments applies to a sum of revenue only'
        end as problem
    from traits
    left join event_names on traits.event_name = event_names.event_name
)

select * from checked
where problem is not null
{%- else %}
select
    cast(null as {{ rfm_type('text') }}) as trait_name,
    cast(null as {{ rfm_type('text') }}) as problem
where 1 = 0
{%- endif %}
