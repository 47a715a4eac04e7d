{#-
    Issue 8 (clusters and segment profiles): portable statistics and the vars they read.
    Only standard SQL (arithmetic, sqrt, exp, abs, case), so the same models build on PostgreSQL,
    DuckDB and Spark. tests/python/test_profiles.py checks the approximations against scipy.
-#}

{#- SQL: the two-sided p-value of a standard normal statistic z, P(|Z| >= |z|) = erfc(|z|/sqrt 2),
    by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7). Beyond |z| = 37 the p-value is
    below 1e-300: 0, which also keeps exp() from underflowing (PostgreSQL raises on underflow). -#}
{% macro segment_normal_two_sided_p(z) -%}
    case
        when {{ z }} is null then null
        when abs({{ z }}) > 37 then 0.0
        else
            (
                0.254829592 * (1.0 / (1.0 + 0.3275911 * abs({{ z }}) / sqrt(2.0)))
                - 0.284496736 * power(1.0 / (1.0 + 0.3275911 * abs({{ z }}) / sqrt(2.0)), 2)
                + 1.421413741 * power(1.0 / (1.0 + 0.3275911 * abs({{ z }}) / sqrt(2.0)), 3)
                - 1.453152027 * power(1.0 / (1.0 + 0.3275911 * abs({{ z }}) / sqrt(2.0)), 4)
                + 1.061405429 * power(1.0 / (1.0 + 0.3275911 * abs({{ z }}) / sqrt(2.0)), 5)
            ) * exp(-({{ z }}) * ({{ z }}) / 2.0)
    end
{%- endmacro %}


{#- SQL: a Student t statistic with df degrees of freedom mapped to an approximately standard
    normal one, z = t (1 - 1/(4 df)) / sqrt(1 + t^2 / (2 df)) (Abramowitz & Stegun 26.7.8), so that
    the Welch test's p-value is segment_normal_two_sided_p(z). Exact as df grows; at df >= 10 the
    two-sided p-value is within 0.003 of scipy's t distribution (checked by the tests). -#}
{% macro segment_t_to_z(t, df) -%}
    (
        ({{ t }}) * (1.0 - 1.0 / (4.0 * ({{ df }})))
        / sqrt(1.0 + ({{ t }}) * ({{ t }}) / (2.0 * ({{ df }})))
    )
{%- endmacro %}


{#- Jinja: a boolean var (true/false), validated like the run parameters. -#}
{% macro segment_bool_var(name, default) -%}
    {%- set value = var(name, default) -%}
    {%- if value is not boolean -%}
        {{ rfm_var_error(name, value, "expected true or false") }}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}


{#- Jinja: var segment_false_discovery_rate, the Benjamini-Hochberg level of segment_profiles'
    is_significant (default 0.05), as a number in (0, 1). -#}
{% macro segment_fdr_var() -%}
    {%- set value = var('segment_false_discovery_rate', 0.05) -%}
    {%- set text = value | string | trim -%}
    {%- if value is boolean or not modules.re.fullmatch('0?\\.[0-9]{1,6}', text) or (text | float) <= 0 -%}
        {{ rfm_var_error('segment_false_discovery_rate', value, "expected a number in (0, 1), e.g. 0.05") }}
    {%- endif -%}
    {{- return(text | float) -}}
{%- endmacro %}
