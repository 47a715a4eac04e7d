#!/usr/bin/env bash
# The scheduled run with and without the LTV features table (tag ml), back to back, on the
# database `make bench SIZE=M` leaves behind (rfm_bench, PostgreSQL). Run from the repository
# root after `make bench SIZE=M`:  bash benchmarks/schedule_split.sh
set -euo pipefail
eval "$(.venv/bin/rfm env)"
export PGDATABASE=rfm_bench DBT_SCHEMA=analytics DBT_TARGET=postgres
work=$(mktemp -d)
export DBT_TARGET_PATH="$work/target" DBT_LOG_PATH="$work/logs"
as_of=$(.venv/bin/python -c "import json; print(json.load(open('benchmarks/results.json'))['runs']['M-normal-36']['rfm_as_of'])")
vars="{\"rfm_as_of\": \"$as_of\"}"
.venv/bin/dbt parse -q --vars "$vars"
timed() {
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  .venv/bin/dbt build -q --vars "$vars" "$@"
  end=$(date +%s.%N)
  printf '%-32s %6.1f s\n' "$label" "$(echo "$end - $start" | bc)"
}
for run in 1 2; do
  timed "dbt build (run $run)"
  timed "dbt build --exclude tag:ml ($run)" --exclude tag:ml
done
