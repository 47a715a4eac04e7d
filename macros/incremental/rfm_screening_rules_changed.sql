{#- SQL for rfm_delete_rescreened_rows: one count, above zero when the screening rules `rules`
    (a select of rule_kind, rule_value: e.g. the seeds a staging model screens with) differ
    from those its stored rows were screened with (the marker <this>__screening_rules, written
    by rfm_store_screening_rules), or when no marker exists. -#}
{% macro rfm_screening_rules_changed(rules) -%}
    {%- if not execute -%}
        {{- return('select 0 as changed_rules') -}}
    {%- endif -%}
    {%- set marker = load_relation(rfm_relation_beside('screening_rules')) -%}
    {%- if marker is none -%}
        {{- return('select 1 as changed_rules') -}}
    {%- endif -%}
    {%- set changed -%}
        select count(*) as changed_rules
        from (
            (
                select rule_kind, rule_value from {{ marker }}
                except
                select rule_kind, rule_value from ({{ rules }}) as rules
            )
            union all
            (
                select rule_kind, rule_value from ({{ rules }}) as rules
                except
                select rule_kind, rule_value from {{ marker }}
            )
        ) as changed
    {%- endset -%}
    {{- return(changed) -}}
{%- endmacro %}


{#- Post-hook of an incremental screening staging model: records the screening rules `rules`
    of this run in the marker <this>__screening_rules (replaced whole: a seed's rows), in the
    model's transaction, for the next run's rfm_screening_rules_changed. Nothing where the
    model is a table (Spark): every run screens every row there. -#}
{% macro rfm_store_screening_rules(rules) -%}
    {%- if not execute or config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set marker = rfm_relation_beside('screening_rules') -%}
    {%- do run_query('drop table if exists ' ~ marker) -%}
    {%- do run_query('create table ' ~ marker ~ ' as ' ~ rules) -%}
    {{- return('') -}}
{%- endmacro %}
