{#- Schema vars (raw_schema, ltv_schema, cluster_model_schema) are rendered into sources.yml,
    where dbt quotes them without escaping quotes: every model that reads such a source checks
    its var first, so that a name carrying quotes or a semicolon fails at compile time instead
    of reaching the database. A null var (when the default is null) passes. -#}
{% macro rfm_check_schema_var(name, default) -%}
    {%- set value = var(name, default) -%}
    {%- if value is not none and not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_$]{0,62}', value | string) -%}
        {{ rfm_var_error(name, value, "expected a schema name ([A-Za-z_][A-Za-z0-9_$]*)") }}
    {%- endif -%}
{%- endmacro %}
