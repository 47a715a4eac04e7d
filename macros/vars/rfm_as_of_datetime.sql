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
