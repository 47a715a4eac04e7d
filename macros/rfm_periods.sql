{#-
    Periods: a period is a calendar month or an ISO week (Monday to Sunday), named by its first
    day. The SQL macros work on columns; the rfm_*_period Jinja macros work on python dates at
    compile time (the incremental boundaries are computed once and rendered as literals).
-#}

{#- SQL: the first day of the period containing the date/timestamp expression. -#}
{% macro rfm_period_start(expression) -%}
    cast({{ dbt.date_trunc(rfm_grain(), expression) }} as date)
{%- endmacro %}


{#- SQL: the start of the period n periods after the period-start expression, as a timestamp. -#}
{% macro rfm_period_add(period_start, n) -%}
    cast({{ dbt.dateadd(rfm_grain(), n, period_start) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#- Jinja: the first day (python date) of the period containing a python date or datetime. -#}
{% macro rfm_period_of(value) -%}
    {%- set day = modules.datetime.date(value.year, value.month, value.day) -%}
    {%- if rfm_grain() == 'month' -%}
        {{- return(day.replace(day=1)) -}}
    {%- endif -%}
    {{- return(day - modules.datetime.timedelta(days=day.weekday())) -}}
{%- endmacro %}


{#- Jinja: the period start n periods after a period start (n may be negative). -#}
{% macro rfm_shift_period(period_start, n) -%}
    {%- if rfm_grain() == 'month' -%}
        {%- set months = period_start.year * 12 + period_start.month - 1 + n -%}
        {{- return(modules.datetime.date(months // 12, months % 12 + 1, 1)) -}}
    {%- endif -%}
    {{- return(period_start + modules.datetime.timedelta(weeks=n)) -}}
{%- endmacro %}


{#- SQL: the 1-5 score of a percentile (SPEC.md: steps of 0.2). -#}
{% macro rfm_score(percentile) -%}
    case
        when {{ percentile }} >= 0.8 then 5
        when {{ percentile }} >= 0.6 then 4
        when {{ percentile }} >= 0.4 then 3
        when {{ percentile }} >= 0.2 then 2
        else 1
    end
{%- endmacro %}


{#- Jinja: every period (python dates) from the period of `first_at` to the period of
    rfm_as_of, keeping only periods that start before rfm_as_of (SPEC.md, "Snapshots"). -#}
{% macro rfm_expected_periods(first_at) -%}
    {%- set as_of = rfm_as_of_datetime() -%}
    {%- set first = rfm_period_of(first_at) -%}
    {%- set last = rfm_period_of(as_of) -%}
    {%- if rfm_grain() == 'month' -%}
        {%- set count = (last.year * 12 + last.month) - (first.year * 12 + first.month) + 1 -%}
    {%- else -%}
        {%- set count = ((last - first).days // 7) + 1 -%}
    {%- endif -%}
    {%- set periods = [] -%}
    {%- for n in range(count) -%}
        {%- set period = rfm_shift_period(first, n) -%}
        {%- if modules.datetime.datetime(period.year, period.month, period.day) < as_of -%}
            {%- do periods.append(period) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(periods) -}}
{%- endmacro %}
