"""``python -m rfm_segmentation.warehouses spark-register FOLDER SCHEMA FILES``: what the
Spark warehouse runs in a short-lived Spark process of its own (embedded Derby admits one JVM at
a time, and dbt is another)."""

import sys
from pathlib import Path

from rfm_segmentation.warehouses.spark import register

if len(sys.argv) == 5 and sys.argv[1] == "spark-register":
    register(Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
else:
    raise SystemExit("usage: python -m rfm_segmentation.warehouses spark-register FOLDER SCHEMA"
                     " FILES")
