"""The few ways the sync talks to the warehouse that the engines spell differently: the
parameter placeholder, an explicit transaction, and a result streamed in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rfm_segmentation import warehouses


class Db:
    """A warehouse (PostgreSQL or DuckDB) as the sync uses it."""

    def __init__(self, warehouse: warehouses.Warehouse) -> None:
        if warehouse.engine not in ("postgres", "duckdb"):
            raise ValueError(f"rfm sync runs on PostgreSQL or DuckDB, not {warehouse.engine}")
        self.warehouse = warehouse
        self.placeholder = "%s" if warehouse.engine == "postgres" else "?"

    def quote(self, *parts: str) -> str:
        return self.warehouse.quote(*parts)

    def placeholders(self, count: int) -> str:
        return ", ".join([self.placeholder] * count)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor whose statements commit together at the end (or not at all)."""
        if self.warehouse.engine == "postgres":
            with self.warehouse.cursor() as cur:  # commits when the block ends
                yield cur
            return
        with self.warehouse.cursor() as conn:
            conn.execute("begin transaction")
            try:
                yield conn
            except BaseException:
                conn.execute("rollback")
                raise
            conn.execute("commit")

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.transaction() as cur:
            cur.execute(statement, list(params))
            return [tuple(row) for row in cur.fetchall()]

    def columns(self, statement: str) -> list[str]:
        """The column names of a query's result (run with no row)."""
        with self.transaction() as cur:
            cur.execute(f"select * from ({statement}) as probe where 1 = 0")
            return [column[0] for column in cur.description]

    def stream(self, statement: str, chunk: int) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of ``statement`` in lists of at most ``chunk``, without holding all of
        them in memory (a server-side cursor on PostgreSQL)."""
        if self.warehouse.engine == "postgres":
            assert isinstance(self.warehouse, warehouses.PostgresWarehouse)
            conn = self.warehouse.connection.connect()
            try:
                with conn.cursor(name="rfm_sync_work") as cur:
                    cur.itersize = chunk
                    cur.execute(statement)
                    while rows := cur.fetchmany(chunk):
                        yield [tuple(row) for row in rows]
            finally:
                conn.close()
            return
        with self.warehouse.cursor() as conn:
            result = conn.execute(statement)
            while rows := result.fetchmany(chunk):
                yield [tuple(row) for row in rows]
