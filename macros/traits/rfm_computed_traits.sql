{#- The computed traits of the seed computed_traits (docs/identity.md, "Computed traits"), read
    at compile time and checked: a bad definition fails the compilation naming the trait. A list
    of dicts (trait_name, trait_kind, event_name, property, window_days, includes_payments,
    data_type) in the order of the trait names; empty while dbt parses, and on a compile
    before the seed is loaded. -#}
{% macro rfm_computed_traits() -%}
    {%- if not execute -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set seed = ref('computed_traits') -%}
    {%- if load_relation(seed) is none -%}
        {#- not seeded yet: a compile (or lint) of a fresh warehouse renders no trait; a run
            would build the wrong columns -#}
        {%- if flags.WHICH in ('run', 'build') -%}
            {{ exceptions.raise_compiler_error(
                "The seed computed_traits is not in the warehouse: run `dbt seed` first"
            ) }}
        {%- endif -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set rows = run_query(
        'select trait_name, trait_kind, event_name, property, window_days, includes_payments'
        ~ ' from ' ~ seed ~ ' order by trait_name'
    ).rows -%}
    {%- set known_events = run_query(
        'select event_name from ' ~ ref('identity_event_names')
    ).columns[0].values() -%}
    {%- set traits = [] -%}
    {%- for row in rows -%}
        {%- set trait = {
            'trait_name': row[0], 'trait_kind': row[1], 'event_name': row[2],
            'property': row[3], 'window_days': row[4], 'includes_payments': row[5],
        } -%}
        {%- set problem = rfm_computed_trait_problem(trait, known_events) -%}
        {%- if problem -%}
            {{ exceptions.raise_compiler_error(
                "Invalid computed trait " ~ trait.trait_name ~ " (seed computed_traits): " ~ problem
            ) }}
        {%- endif -%}
        {%- do trait.update({
            'data_type': rfm_computed_trait_types()[trait.trait_kind]
                or rfm_trait_properties()[trait.property],
            'window_days': (trait.window_days | int) if trait.window_days is not none else none,
        }) -%}
        {%- do traits.append(trait) -%}
    {%- endfor -%}
    {{- return(traits) -}}
{%- endmacro %}


{#- The event properties a trait may read, and their SQL types. -#}
{% macro rfm_trait_properties() -%}
    {{- return({
        'revenue': rfm_type('money'),
        'product_id': rfm_type('text'),
        'occurred_at': dbt.type_timestamp(),
    }) -}}
{%- endmacro %}


{#- The trait kinds and the type of their value (none: the property's type). -#}
{% macro rfm_computed_trait_types() -%}
    {{- return({
        'counter': dbt.type_bigint(),
        'sum': rfm_type('money'),
        'min': none,
        'max': none,
        'average': rfm_type('money'),
        'first': none,
        'last': none,
        'most_frequent': none,
        'distinct_count': dbt.type_bigint(),
    }) -}}
{%- endmacro %}


{#- What is wrong with one definition of the seed, or an empty string. -#}
{% macro rfm_computed_trait_problem(trait, known_events) -%}
    {%- set kinds = rfm_computed_trait_types() -%}
    {%- set properties = rfm_trait_properties() -%}
    {%- set name = trait.trait_name -%}
    {%- if name is none or not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
        {{- return('the name must be a lower-case column name (a-z, 0-9, _)') -}}
    {%- elif trait.trait_kind not in kinds -%}
        {{- return('unknown trait_kind ' ~ trait.trait_kind ~ ', expected one of '
            ~ kinds.keys() | join(', ')) -}}
    {%- elif trait.event_name is not none and trait.event_name not in known_events -%}
        {{- return('event_name ' ~ trait.event_name ~ ' is not in the seed identity_event_names') -}}
    {%- elif trait.trait_kind == 'counter' and trait.property is not none -%}
        {{- return('a counter counts events and takes no property') -}}
    {%- elif trait.trait_kind != 'counter' and trait.property is none -%}
        {{- return('a ' ~ trait.trait_kind ~ ' needs a property') -}}
    {%- elif trait.property is not none and trait.property not in properties -%}
        {{- return('the events have no property ' ~ trait.property ~ ', expected one of '
            ~ properties.keys() | join(', ')) -}}
    {%- elif trait.trait_kind in ('sum', 'average') and trait.property != 'revenue' -%}
        {{- return('a ' ~ trait.trait_kind ~ ' needs a numeric property (revenue)') -}}
    {%- elif trait.window_days is not none and (trait.window_days | int) < 1 -%}
        {{- return('window_days must be 1 or more, or empty for all time') -}}
    {%- elif trait.includes_payments is none -%}
        {{- return('includes_payments must be true or false') -}}
    {%- elif trait.includes_payments and not (
        trait.trait_kind == 'sum' and trait.property == 'revenue'
    ) -%}
        {{- return('includes_payments applies to a sum of revenue only') -}}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}
