"""A table in another PostgreSQL database (an application's): ``insert ... on conflict do
update`` for upserts, ``update ... from (values ...)`` for updates, ``delete`` for removals;
one transaction per batch. A batch the database refuses (a constraint, a value too long) is
written again row by row, each in a savepoint, so that only the offending rows are rejected."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg2
from psycopg2 import sql
from psycopg2.extras import execute_values

from rfm_segmentation.sync.config import ConfigError, PostgresDestination
from rfm_segmentation.sync.destinations.base import (
    AuthError,
    Destination,
    DestinationError,
    Outcome,
    Record,
)


class PostgresTable(Destination):
    def __init__(self, config: PostgresDestination, columns: Sequence[str],
                 environ: Mapping[str, str]) -> None:
        dsn = environ.get(config.dsn_env)
        if not dsn:
            raise ConfigError(f"destination.dsn_env: the environment variable {config.dsn_env}"
                              f" (a libpq connection string of the target database) is not set")
        self.config = config
        self.columns = list(columns)
        self.table = sql.Identifier(*config.table.split("."))
        try:
            self.conn = psycopg2.connect(dsn)
        except psycopg2.OperationalError as err:
            text = str(err).strip()
            if "authentication" in text or "password" in text:
                raise AuthError(f"the target database refused the login: {text}") from err
            raise DestinationError(f"cannot reach the target database: {text}") from err

    def describe(self) -> str:
        params = self.conn.get_dsn_parameters()
        return f"PostgreSQL table {self.config.table} (database {params.get('dbname')})"

    def close(self) -> None:
        self.conn.close()

    def check(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql.SQL("select * from {} where false").format(self.table))
            present = {column.name for column in cur.description}
        self.conn.rollback()
        missing = [c for c in [self.config.key_column, *self.columns] if c not in present]
        if missing:
            raise ConfigError(f"destination.table: {self.config.table} has no column "
                              f"{missing[0]!r} (mapped or key_column); its columns: "
                              f"{', '.join(sorted(present))}")

    def _statement(self, action: str) -> sql.Composable:
        key = sql.Identifier(self.config.key_column)
        columns = [sql.Identifier(c) for c in self.columns]
        if action == "remove":
            return sql.SQL("delete from {} where {} in (select k from (values %s) as v(k))"
                           " returning {}").format(self.table, key, key)
        if action == "upsert":
            return sql.SQL("insert into {} ({}) values %s on conflict ({}) do update set {}"
                           " returning {}").format(
                self.table, sql.SQL(", ").join([key, *columns]), key,
                sql.SQL(", ").join(sql.SQL("{} = excluded.{}").format(c, c) for c in columns),
                key)
        names = [sql.Identifier(f"c{i}") for i in range(len(columns))]
        return sql.SQL("update {} as t set {} from (values %s) as v(k, {}) where t.{} = v.k"
                       " returning t.{}").format(
            self.table,
            sql.SQL(", ").join(sql.SQL("{} = v.{}").format(c, n)
                               for c, n in zip(columns, names, strict=True)),
            sql.SQL(", ").join(names), key, key)

    def _rows(self, action: str, records: Sequence[Record]) -> list[tuple[Any, ...]]:
        if action == "remove":
            return [(r.key,) for r in records]
        return [(r.key, *(r.properties[c] for c in self.columns)) for r in records]

    def _write(self, cur: Any, action: str, records: Sequence[Record]) -> set[str]:
        result = execute_values(cur, self._statement(action), self._rows(action, records),
                                fetch=True, page_size=max(len(records), 1))
        return {str(row[0]) for row in result}

    def send(self, action: str, records: Sequence[Record]) -> Outcome:
        keys = {r.key for r in records}
        try:
            with self.conn, self.conn.cursor() as cur:
                written = self._write(cur, action, records)
        except (psycopg2.DataError, psycopg2.IntegrityError):
            return self._row_by_row(action, records)
        except psycopg2.OperationalError as err:
            raise DestinationError(f"the target database failed: {str(err).strip()}") from err
        if action == "remove":  # a record already gone is removed all the same
            return Outcome(accepted=keys)
        outcome = Outcome(accepted=written & keys)
        for key in keys - written:
            outcome.rejected[key] = ("OBJECT_NOT_FOUND", f"no row with {self.config.key_column}"
                                     f" = {key!r} to update")
        return outcome

    def _row_by_row(self, action: str, records: Sequence[Record]) -> Outcome:
        outcome = Outcome()
        with self.conn, self.conn.cursor() as cur:
            for record in records:
                cur.execute("savepoint rfm_sync_row")
                try:
                    written = self._write(cur, action, [record])
                except (psycopg2.DataError, psycopg2.IntegrityError) as err:
                    cur.execute("rollback to savepoint rfm_sync_row")
                    outcome.rejected[record.key] = (type(err).__name__,
                                                    str(err).strip().splitlines()[0])
                    continue
                if written or action == "remove":
                    outcome.accepted.add(record.key)
                else:
                    outcome.rejected[record.key] = ("OBJECT_NOT_FOUND", "no row to update")
        return outcome
