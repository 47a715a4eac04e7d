{#- SQL: the engine's name of a column type that differs between engines. The contracts in the
    models' yml files spell the same names (anchors &text, &double, &money): keep them in step.
    money: exact decimals; unconstrained numeric on PostgreSQL, 38 digits with 10 decimals
    elsewhere (DuckDB's bare decimal is (18,3), Spark's (10,0)). -#}
{% macro rfm_type(kind) -%}
    {%- set types = {
        'text': 'string' if target.type == 'spark' else 'text',
        'double': 'double precision' if target.type == 'postgres' else 'double',
        'money': 'numeric' if target.type == 'postgres' else 'decimal(38,10)',
    } -%}
    {%- if kind not in types -%}
        {{ exceptions.raise_compiler_error("rfm_type: unknown kind " ~ kind ~ ", expected one of " ~ types.keys() | list) }}
    {%- endif -%}
    {{- types[kind] -}}
{%- endmacro %}
