{#-
    Fails the build, naming the missing periods, when the calendar (the model's periods) does not
    cover every period from the first clean payment's period to the period of rfm_as_of
    (docs/contract.md, "Cleaning"). A silent gap would corrupt the history, so this test blocks
    every model downstream of the periods.
-#}
{% test calendar_covers_payment_periods(model, column_name, payments) %}

{%- set missing = [] -%}
{%- if execute and load_relation(model) is not none and load_relation(payments) is not none -%}
    {%- set first_payment_at = run_query(
        'select min(payment_date) from ' ~ payments ~ ' where rejection_reason is null'
    ).columns[0].values()[0] -%}
    {%- if first_payment_at is not none -%}
        {%- set present = run_query(
            'select distinct ' ~ column_name ~ ' from ' ~ model
        ).columns[0].values() | map('string') | list -%}
        {%- for period in rfm_expected_periods(first_payment_at) -%}
            {%- if (period | string) not in present -%}
                {%- do missing.append(period | string) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endif -%}
{%- if missing and flags.WHICH in ['build', 'test'] -%}
    {#- A plain "Got N results" would not say which periods: fail with the list instead. -#}
    {{ exceptions.raise_compiler_error(
        "dim_calendar does not cover " ~ (missing | length) ~ " " ~ rfm_grain()
        ~ " period(s) needed from the first clean payment to rfm_as_of: "
        ~ (missing[:50] | join(', ')) ~ (' ...' if missing | length > 50 else '')
    ) }}
{%- endif %}

{#- `dbt compile`/`dbt show` of this test list the missing periods as rows. #}
{%- for period in missing %}
select cast('{{ period }}' as date) as missing_period
union all
{%- endfor %}
select {{ column_name }} as missing_period
from {{ model }}
where 1 = 0

{% endtest %}
