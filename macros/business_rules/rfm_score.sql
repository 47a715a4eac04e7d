{#- SQL: the 1-5 score of a percentile (docs/contract.md: steps of 0.2). -#}
{% macro rfm_score(percentile) -%}
    case
        when {{ percentile }} >= 0.8 then 5
        when {{ percentile }} >= 0.6 then 4
        when {{ percentile }} >= 0.4 then 3
        when {{ percentile }} >= 0.2 then 2
        else 1
    end
{%- endmacro %}
