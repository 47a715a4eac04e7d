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
