{#-
    The few places where engines really differ, each one adapter.dispatch with a default body.
-#}

{#- Compare/sort text by code point (byte order in UTF-8), whatever the database's locale:
    the duplicate tie-break "smallest user_id" must not depend on the server's collation. -#}
{% macro rfm_text_in_byte_order(expression) -%}
    {{ return(adapter.dispatch('rfm_text_in_byte_order', 'rfm_segmentation')(expression)) }}
{%- endmacro %}

{% macro default__rfm_text_in_byte_order(expression) -%}
    {{ expression }}
{%- endmacro %}

{% macro postgres__rfm_text_in_byte_order(expression) -%}
    {{ expression }} collate "C"
{%- endmacro %}


{#- Session settings for the project's own heavy statements (a pre-hook inside the model's
    transaction, so nothing leaks to other models or sessions). On PostgreSQL: work_mem from
    var rfm_work_mem (default 256MB; null leaves the server's setting), so that the sorts and
    hashes of the history stay in memory instead of spilling to disk. -#}
{% macro rfm_session_tuning() -%}
    {{ return(adapter.dispatch('rfm_session_tuning', 'rfm_segmentation')()) }}
{%- endmacro %}

{% macro default__rfm_session_tuning() -%}
{%- endmacro %}

{% macro postgres__rfm_session_tuning() -%}
    {%- set work_mem = var('rfm_work_mem', '256MB') -%}
    {%- if work_mem is not none -%}
        {%- if not modules.re.fullmatch('[0-9]{1,7}(kB|MB|GB)', work_mem | string) -%}
            {{ rfm_var_error('rfm_work_mem', work_mem, "expected a size such as '256MB' or null") }}
        {%- endif -%}
        set local work_mem = '{{ work_mem }}'
    {%- endif -%}
{%- endmacro %}


{#- Serialize concurrent runs of one incremental model: a transaction-level advisory lock on
    the model's name, taken by a pre-hook inside the model's transaction and released at its
    commit or rollback. Without it, two overlapping delete+insert runs of a mart without a
    unique index would both insert their rows. -#}
{% macro rfm_lock_model() -%}
    {{ return(adapter.dispatch('rfm_lock_model', 'rfm_segmentation')()) }}
{%- endmacro %}

{% macro default__rfm_lock_model() -%}
{%- endmacro %}

{% macro postgres__rfm_lock_model() -%}
    select pg_advisory_xact_lock(hashtext('{{ this }}'))
{%- endmacro %}


{#- Refresh the planner's statistics of a table just written (a post-hook): PostgreSQL's
    autovacuum would do it later, and the next models' plans depend on it now. -#}
{% macro rfm_analyze() -%}
    {{ return(adapter.dispatch('rfm_analyze', 'rfm_segmentation')()) }}
{%- endmacro %}

{% macro default__rfm_analyze() -%}
{%- endmacro %}

{% macro postgres__rfm_analyze() -%}
    analyze {{ this }}
{%- endmacro %}



{#- SQL: the engine's name of a column type that differs between engines. The contracts in the
    models' yml files spell the same names (anchors &text, &double, &money): keep them in step.
    money: exact decimals; unconstrained numeric on PostgreSQL, 38 digits with 10 decimals
    elsewhere (DuckDB's bare decimal is (18,3), Spark's (10,0)). -#}
{% macro rfm_type(kind) -%}
    {%- set types = {
        'text': 'string' if target.type == 'spark' else 'text',
        'double': 'double precision' if target.type == 'postgres' else 'double',
        'money': 'numeric' if target.type == 'postgres' else 'decimal(38,10)',
    } -%}
    {%- if kind not in types -%}
        {{ exceptions.raise_compiler_error("rfm_type: unknown kind " ~ kind ~ ", expected one of " ~ types.keys() | list) }}
    {%- endif -%}
    {{- types[kind] -}}
{%- endmacro %}


{#- The incremental strategy of the period-keyed marts: delete+insert of the recomputed periods
    where the engine has it; on Spark (parquet, no Delta) the tables are partitioned by period
    and insert_overwrite replaces the recomputed periods' partitions. -#}
{% macro rfm_incremental_strategy() -%}
    {{- return('insert_overwrite' if target.type == 'spark' else 'delete+insert') -}}
{%- endmacro %}


{#- partition_by config: the period column on Spark, none elsewhere. -#}
{% macro rfm_partition_by(column) -%}
    {{- return([column] if target.type == 'spark' else none) -}}
{%- endmacro %}


{#- SQL: "order by <column>" at the end of a model stored by period (the history,
    int_user_features) on the engines that write rows in the order they are selected (PostgreSQL,
    DuckDB); nothing on Spark, whose tables are partitioned by that column (rfm_partition_by).
    The per-user windows return rows by user: stored in that order, every page of the table holds
    every period, so reading one period (rfm_segments_current, the marts of the latest period, the
    tests of the recomputed periods) reads the whole table, and the delete of the next
    incremental run dirties every page. Sorting by the period costs 0.2 s of the history's 10 s
    at M, and its index is built 0.1 s faster from sorted rows. -#}
{% macro rfm_stored_in_order_of(column) -%}
    {%- if target.type != 'spark' %}
order by {{ column }}
    {%- endif -%}
{%- endmacro %}


{#- Post-hook of stg_billing__payments: on PostgreSQL, check constraints for the rules of its
    rows (a clean row has a payment_id, a user_id and a positive amount; a rejection reason is
    one of SPEC.md's), added when the table has none (it was just built). Adding them reads the
    new table once; afterwards PostgreSQL checks each row as it is inserted. They replace four
    data tests (not_null x2, accepted_range, accepted_values in _billing__models.yml, still run
    on the other engines) that each read the whole table on every run, a cost growing with the
    history instead of the new rows. `rfm_rejection_reasons` must list the reasons of the
    accepted_values test (test_bad_input.py checks it). -#}
{% macro rfm_payment_row_checks() -%}
    {{ return(adapter.dispatch('rfm_payment_row_checks', 'rfm_segmentation')()) }}
{%- endmacro %}

{% macro default__rfm_payment_row_checks() -%}
{%- endmacro %}

{% macro postgres__rfm_payment_row_checks() -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set clean_row_rules = {
        'clean_payment_has_payment_id': 'payment_id is not null',
        'clean_payment_has_user_id': 'user_id is not null',
        'clean_payment_amount_is_positive': 'payment_amount > 0',
    } -%}
    {%- set existing = run_query(
        "select count(*) from pg_constraint where contype = 'c' and conrelid = '"
        ~ this ~ "'::regclass"
    ).columns[0].values()[0] -%}
    {%- if existing == 0 -%}
        alter table {{ this }}
        {%- for name, rule in clean_row_rules.items() %}
            add constraint {{ name }} check (rejection_reason is not null or {{ rule }}),
        {%- endfor %}
            add constraint rejection_reason_is_known check (
                rejection_reason in ('{{ rfm_rejection_reasons() | join("', '") }}')
            )
    {%- endif -%}
{%- endmacro %}

{#- SPEC.md's rejection reasons, in its order (the reasons of stg_billing__payments). -#}
{% macro rfm_rejection_reasons() -%}
    {{ return([
        'missing_payment_id', 'missing_user_id', 'missing_payment_date', 'missing_payment_amount',
        'non_positive_amount', 'after_as_of', 'duplicate_payment_id',
    ]) }}
{%- endmacro %}


{#- Post-hook of stg_billing__payments: on PostgreSQL, a partial unique index on payment_id over
    the clean rows, created when the table has none (it was just built). It replaces a data
    test that would read the whole table on every run: an incremental run checks only the rows
    it inserts. The name carries the build's time, as dbt's own indexes do: a rebuilt table is
    swapped in while the old one and its index still exist. -#}
{% macro rfm_unique_clean_payment_ids() -%}
    {{ return(adapter.dispatch('rfm_unique_clean_payment_ids', 'rfm_segmentation')()) }}
{%- endmacro %}

{% macro default__rfm_unique_clean_payment_ids() -%}
{%- endmacro %}

{% macro postgres__rfm_unique_clean_payment_ids() -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set prefix = this.identifier ~ '_clean_payment_id_' -%}
    {%- set existing = run_query(
        "select count(*) from pg_indexes where schemaname = '" ~ this.schema
        ~ "' and tablename = '" ~ this.identifier ~ "' and indexname like '" ~ prefix ~ "%'"
    ).columns[0].values()[0] -%}
    {%- if existing == 0 -%}
        create unique index "{{ prefix ~ run_started_at.strftime('%Y%m%d%H%M%S%f') }}"
        on {{ this }} (payment_id) where rejection_reason is null
    {%- endif -%}
{%- endmacro %}
