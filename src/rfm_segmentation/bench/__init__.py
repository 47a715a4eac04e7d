"""`rfm bench`: how fast is the history, next to the article's query as written, the naive design
(that query with the cleaning), the floors and pandas.

On PostgreSQL (``--engine postgres``, the default unless DBT_TARGET says otherwise) one run
works in its own database (``rfm_bench`` by default, dropped and recreated) on the server
``postgres.resolve`` gives. On DuckDB it works in a fresh file, on Spark in a fresh warehouse
folder, both under ``.local/bench/<engine>`` (never the demo's). It measures on the same data:

1. generate demo data of a named size and shape (deterministic by seed) and load it into ``raw``,
   every period but the last; the last period's payments are appended later;
2. ``dbt build --full-refresh`` at the end of the previous period (the stored history);
3. append the last period, then the scheduled ``dbt build`` (incremental) at its end;
4. ``dbt build --full-refresh`` at the same instant (the headline full build), then the unit
   tests on their own (every build above is the production job, ``PRODUCTION_BUILD``, which
   leaves them to CI);
5. the article's history query as written, ``benchmarks/article.sql`` (the headline of every
   ratio; its segments are not compared), then the naive design, ``benchmarks/naive.sql``, each
   as ``create table ... as`` (capped);
6. the floor, ``benchmarks/floor.sql``, and the scheduled run's floor,
   ``benchmarks/floor_scheduled.sql``, as ``create table ... as``;
7. the pandas way of the background articles (a groupby per period), compute time only;
8. checks that the naive design, pandas and our full build give every (period, user) the same
   segment, and that the incremental run equals the full build; fails loudly otherwise;
9. dbt's fixed cost per invocation, optionally EXPLAIN ANALYZE of the history's compiled SQL;
   the peak RSS of dbt and of this process, and PostgreSQL's temp files per step.

The SQL peers are written for PostgreSQL; ``render_sql`` turns them into DuckDB's or
Spark's dialect (``_DIALECTS``). On Spark they run in a Spark process of their own, after dbt
(embedded Derby admits one JVM), and every check reads Spark's parquet files with DuckDB.
PostgreSQL-only figures (temp spilled, EXPLAIN, relation size) are None (n/a) elsewhere.

The results are merged into ``benchmarks/results.json`` (one entry per engine, size, shape and
number of periods) and rendered to ``benchmarks/results.md``.

The modules: ``plan`` (sizes, shapes, options), ``data`` (generate, load, read back), ``peers``
(the SQL peers' dialects, pandas), ``dbt_runs`` and ``measure`` (timing dbt and SQL),
``backends`` (what differs by engine), ``compare`` (the checks), ``runner`` (one run),
``results`` (results.json and results.md), ``cli`` (the verb).
"""

from rfm_segmentation.bench.backends import spark_sql_main
from rfm_segmentation.bench.cli import cmd_bench
from rfm_segmentation.bench.compare import (
    Comparison,
    compare_cursor,
    compare_tables,
    store_segments,
)
from rfm_segmentation.bench.data import load_initial, read_raw_payments, snapshot_periods
from rfm_segmentation.bench.dbt_runs import DbtRun, DbtRunner
from rfm_segmentation.bench.measure import machine_facts, run_sql_step
from rfm_segmentation.bench.peers import (
    _DIALECTS,
    pandas_clean,
    pandas_segments,
    render_sql,
    segment_matrix,
)
from rfm_segmentation.bench.plan import (
    PRODUCTION_BUILD,
    SHAPES,
    SIZES,
    SPARK_MAX_SIZE,
    BenchError,
    BenchOptions,
    BenchPlan,
    make_plan,
    run_key,
)
from rfm_segmentation.bench.results import render_markdown, write_results
from rfm_segmentation.bench.runner import run_benchmark

__all__ = [
    "PRODUCTION_BUILD",
    "SHAPES",
    "SIZES",
    "SPARK_MAX_SIZE",
    "_DIALECTS",
    "BenchError",
    "BenchOptions",
    "BenchPlan",
    "Comparison",
    "DbtRun",
    "DbtRunner",
    "cmd_bench",
    "compare_cursor",
    "compare_tables",
    "load_initial",
    "machine_facts",
    "make_plan",
    "pandas_clean",
    "pandas_segments",
    "read_raw_payments",
    "render_markdown",
    "render_sql",
    "run_benchmark",
    "run_key",
    "run_sql_step",
    "segment_matrix",
    "snapshot_periods",
    "spark_sql_main",
    "store_segments",
    "write_results",
]
