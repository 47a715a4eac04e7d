"""What every destination does: take a batch of records for one action and say, record by
record, which ones it accepted and which ones it rejected (and why). A record in neither was not
confirmed: it stays pending and the next run sends it again, which an idempotent write (an
upsert by the record's key) makes harmless."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

ACTIONS: Final = ("upsert", "update", "remove")


class DestinationError(RuntimeError):
    """The destination failed for the whole batch and the run stops (after its retries)."""


class AuthError(DestinationError):
    """The destination refuses the credentials: the run stops at once, no state moves."""


@dataclass(frozen=True)
class Record:
    key: str
    properties: Mapping[str, Any]


@dataclass
class Outcome:
    accepted: set[str] = field(default_factory=set)
    rejected: dict[str, tuple[str, str]] = field(default_factory=dict)
    """key -> (category, the destination's message)"""


class Destination(ABC):
    """One place the sync writes to."""

    def check(self) -> None:  # noqa: B027 - most destinations have nothing to check
        """Fail before any write when the destination cannot take this sync (e.g. a table
        without the mapped columns)."""

    @abstractmethod
    def send(self, action: str, records: Sequence[Record]) -> Outcome:
        """Write ``records`` (``action`` one of ACTIONS); the outcome of each record."""

    @abstractmethod
    def describe(self) -> str: ...

    def close(self) -> None:  # noqa: B027
        """Release connections."""
