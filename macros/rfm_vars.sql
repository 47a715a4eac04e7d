{#-
    The run parameters of SPEC.md, validated at compile time. Every model reads a var through
    these macros, never through var() directly, so that a wrong value fails the compilation with
    a message naming the var and the values it accepts, and so that nothing a user passes in
    --vars reaches the SQL unparsed (a var is rendered only as a date literal or an integer).
-#}

{% macro rfm_var_error(name, value, allowed) -%}
    {{ exceptions.raise_compiler_error(
        "Invalid var " ~ name ~ "=" ~ (value | string | truncate(80, true, "...")) ~ ": " ~ allowed
    ) }}
{%- endmacro %}


{% macro rfm_grain() -%}
    {%- set grain = var('rfm_grain', 'month') -%}
    {%- if grain not in ['month', 'week'] -%}
        {{ rfm_var_error('rfm_grain', grain, "allowed values are 'month' and 'week' (ISO week, starting Monday)") }}
    {%- endif -%}
    {{- return(grain) -}}
{%- endmacro %}


{% macro rfm_positive_int_var(name, default, minimum) -%}
    {%- set value = var(name, default) -%}
    {%- if value is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- if value is boolean or not modules.re.fullmatch('[0-9]{1,6}', text) or (text | int) < minimum -%}
        {{ rfm_var_error(name, value, "expected an integer >= " ~ minimum ~ (" or null" if default is none else "")) }}
    {%- endif -%}
    {{- return(text | int) -}}
{%- endmacro %}


{% macro rfm_window_periods() -%}
    {{- return(rfm_positive_int_var('rfm_window_periods', none, 1)) -}}
{%- endmacro %}


{% macro rfm_lookback_periods() -%}
    {{- return(rfm_positive_int_var('rfm_lookback_periods', 1, 0)) -}}
{%- endmacro %}


{#- rfm_as_of as a naive UTC python datetime: the var if set, else the run's start. -#}
{% macro rfm_as_of_datetime() -%}
    {%- set value = var('rfm_as_of', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {{- return(run_started_at.replace(tzinfo=none)) -}}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- set pattern = '[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?)?' -%}
    {%- if not modules.re.fullmatch(pattern, text) -%}
        {{ rfm_var_error('rfm_as_of', value, "expected a UTC timestamp 'YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]'") }}
    {%- endif -%}
    {%- set parts = modules.re.split('[-: T.]', text) -%}
    {%- set fraction = (parts[6] if parts | length > 6 else '0') -%}
    {%- set y, mo, d = parts[0] | int, parts[1] | int, parts[2] | int -%}
    {%- set h = (parts[3] | int) if parts | length > 3 else 0 -%}
    {%- set mi = (parts[4] | int) if parts | length > 4 else 0 -%}
    {%- set s = (parts[5] | int) if parts | length > 5 else 0 -%}
    {%- set valid_day = y >= 1 and (1 <= mo <= 12) and (1 <= d <= 31) and h < 24 and mi < 60 and s < 60 -%}
    {%- if valid_day -%}
        {%- set days_in_month = (modules.datetime.date(y + (mo // 12), mo % 12 + 1, 1) - modules.datetime.timedelta(days=1)).day -%}
        {%- set valid_day = d <= days_in_month -%}
    {%- endif -%}
    {%- if not valid_day -%}
        {{ rfm_var_error('rfm_as_of', value, "not a real date and time") }}
    {%- endif -%}
    {{- return(modules.datetime.datetime(y, mo, d, h, mi, s, (fraction ~ '00000')[:6] | int)) -}}
{%- endmacro %}


{#- rfm_as_of as a SQL timestamp literal. -#}
{% macro rfm_as_of() -%}
    {{- rfm_timestamp_literal(rfm_as_of_datetime()) -}}
{%- endmacro %}


{% macro rfm_timestamp_literal(value) -%}
    cast('{{ value.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{% macro rfm_date_literal(value) -%}
    cast('{{ value.strftime("%Y-%m-%d") }}' as date)
{%- endmacro %}


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


{#- A SQL string literal of any value (quotes doubled): for values analysts pass as vars. -#}
{% macro rfm_sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}


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


{% macro rfm_check_raw_schema() -%}
    {{- rfm_check_schema_var('raw_schema', 'raw') -}}
{%- endmacro %}


{#- The grants config of the reverse-ETL table: select to var reverse_etl_role when set. When
    it is not set, an empty list revokes what an earlier run granted, on engines that can list
    grants; DuckDB has no grants and Spark without Unity Catalog cannot show them: nothing. -#}
{% macro rfm_reverse_etl_grants() -%}
    {%- set role = rfm_reverse_etl_role() -%}
    {%- if role -%}
        {{- return({'select': [role]}) -}}
    {%- endif -%}
    {{- return({} if target.type in ['spark', 'duckdb'] else {'select': []}) -}}
{%- endmacro %}
