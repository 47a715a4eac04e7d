{#- The database role that reverse ETL logs in as (var reverse_etl_role), or none. -#}
{% macro rfm_reverse_etl_role() -%}
    {%- set role = var('reverse_etl_role', none) -%}
    {%- if role is none or (role | string | trim) == '' -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[a-z_][a-z0-9_]{0,62}', role | string) -%}
        {{ rfm_var_error('reverse_etl_role', role, "expected a lower-case role name ([a-z_][a-z0-9_]*) or null") }}
    {%- endif -%}
    {{- return(role | string) -}}
{%- endmacro %}
