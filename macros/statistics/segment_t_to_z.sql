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
