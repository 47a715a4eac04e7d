{#- SQL for rfm_delete_rescreened_rows: one count, above zero when the screening rules `rules`
    (a select of rule_kind, rule_value: e.g. the seeds a staging model screens with) differ
    from those its stored rows were screened with (the marker <this>__screening_rules, written
    by rfm_store_screening_rules), or when no marker exists. `marker` names another marker
    (<this>__<marker>): profile_traits records its trait definitions so. -#}
{% macro rfm_screening_rules_changed(rules, marker='screening_rules') -%}
    {%- if not execute -%}
        {{- return('select 0 as changed_rules') -}}
    {%- endif -%}
    {%- set stored_rules = load_relation(rfm_relation_beside(marker)) -%}
    {%- if stored_rules is none -%}
        {{- return('select 1 as changed_rules') -}}
    {%- endif -%}
    {%- set changed -%}
        select count(*) as changed_rules
        from (
            (
                select rule_kind, rule_value from {{ stored_rules }}
                except
                select rule_kind, rule_value from ({{ rules }}) as rules
            )
            union all
            (
                select rule_kind, rule_value from ({{ rules }}) as rules
                except
                select rule_kind, rule_value from {{ stored_rules }}
            )
        ) as changed
    {%- endset -%}
    {{- return(changed) -}}
{%- endmacro %}


{#- Post-hook of an incremental screening staging model: records the screening rules `rules`
    of this run in the marker <this>__screening_rules (replaced whole: a seed's rows), in the
    model's transaction, for the next run's rfm_screening_rules_changed. Nothing where the
    model is a table (Spark): every run screens every row there. `marker` as in
    rfm_screening_rules_changed. -#}
{% macro rfm_store_screening_rules(rules, marker='screening_rules') -%}
    {%- if not execute or config.get('materialized') != 'incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set stored_rules = rfm_relation_beside(marker) -%}
    {%- do run_query('drop table if exists ' ~ stored_rules) -%}
    {%- do run_query('create table ' ~ stored_rules ~ ' as ' ~ rules) -%}
    {{- return('') -}}
{%- endmacro %}
