{% macro rfm_var_error(name, value, allowed) -%}
    {{ exceptions.raise_compiler_error(
        "Invalid var " ~ name ~ "=" ~ (value | string | truncate(80, true, "...")) ~ ": " ~ allowed
    ) }}
{%- endmacro %}
