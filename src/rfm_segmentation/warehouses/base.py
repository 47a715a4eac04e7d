"""What the rest of the package needs of an engine, and nothing more: the environment dbt runs
with, a cursor for reading the marts, identifier quoting, and loading the raw tables."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from rfm_segmentation.raw import CalendarRow, EventRow, IdentifyRow, PaymentRow


class Warehouse(ABC):
    """One engine's database, as the CLI, the report and the tests use it."""

    engine: ClassVar[str]
    settings: ClassVar[tuple[str, ...]] = ()
    """The environment variables that point dbt at a database of this engine (profiles.yml)."""

    @classmethod
    @abstractmethod
    def from_environment(cls, root: Path, environ: Mapping[str, str]) -> Warehouse:
        """The warehouse the settings in ``environ`` name, for the project at ``root``."""

    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def dbt_env(self) -> dict[str, str]:
        """What dbt needs in its environment to reach this database (profiles.yml)."""

    @abstractmethod
    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A DB-API cursor (``execute(sql)``, ``fetchall()``, ``description``)."""

    def quote(self, *parts: str) -> str:
        return ".".join('"' + part.replace('"', '""') + '"' for part in parts)

    def query(self, statement: str) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            cur.execute(statement)
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def table(self, schema: str, name: str, order_by: str = "1") -> list[dict[str, Any]]:
        return self.query(f"select * from {self.quote(schema, name)} order by {order_by}")

    @abstractmethod
    def load_raw(self, payments: Iterable[PaymentRow], calendar: Iterable[CalendarRow],
                 schema: str = "raw") -> dict[str, int]:
        """Replace ``<schema>.fact_payments`` and ``<schema>.dim_calendar`` with these rows."""

    @abstractmethod
    def append_payments(self, payments: Iterable[PaymentRow], schema: str = "raw") -> int:
        """Append rows to ``<schema>.fact_payments`` (a new period arriving)."""

    @abstractmethod
    def load_events(self, events: Iterable[EventRow], identifies: Iterable[IdentifyRow],
                    schema: str = "raw", append: bool = False) -> dict[str, int]:
        """Replace (or, with ``append``, add to) the optional sources ``<schema>.fact_events``
        and ``<schema>.identifies``; return the row counts written."""
