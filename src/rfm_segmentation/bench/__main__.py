"""``python -m rfm_segmentation.bench spark-sql FOLDER SCHEMA TABLE SQL_FILE OUT_JSON TIMEOUT_S``:
the naive or floor statement in a Spark process of its own (``backends.spark_sql_main``)."""

import sys
from pathlib import Path

from rfm_segmentation.bench.backends import spark_sql_main

if len(sys.argv) == 8 and sys.argv[1] == "spark-sql":
    spark_sql_main(Path(sys.argv[2]), sys.argv[3], sys.argv[4], Path(sys.argv[5]),
                   Path(sys.argv[6]), float(sys.argv[7]))
else:
    raise SystemExit("usage: python -m rfm_segmentation.bench spark-sql FOLDER SCHEMA TABLE"
                     " SQL_FILE OUT_JSON TIMEOUT_S")
