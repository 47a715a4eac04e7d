"""Reverse ETL: `rfm sync` pushes a model's rows (the current segments) to a CRM's batch API or
a PostgreSQL table, by a diff computed in the warehouse (docs/reverse_etl.md).

config.py (the YAML of a sync) -> plan.py (the diff in SQL) -> runner.py (batches, state) with
state.py (the rfm_sync tables) and destinations/ (http, postgres); command.py is the terminal."""
