"""Where a sync writes: a CRM's batch HTTP API, or a PostgreSQL table in another database."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rfm_segmentation.sync.config import HttpDestination, SyncConfig
from rfm_segmentation.sync.destinations.base import (
    ACTIONS,
    AuthError,
    Destination,
    DestinationError,
    Outcome,
    Record,
)

__all__ = ["ACTIONS", "AuthError", "Destination", "DestinationError", "Outcome", "Record",
           "build"]


def build(config: SyncConfig, environ: Mapping[str, str],
          on_retry: Callable[[str], None] | None = None) -> Destination:
    """The destination of ``config``, its settings read from ``environ``; checked (raises
    ConfigError) but not yet written to."""
    if isinstance(config.destination, HttpDestination):
        from rfm_segmentation.sync.destinations.http import HttpCrm

        return HttpCrm(config.destination, environ, on_retry)
    from rfm_segmentation.sync.destinations.postgres import PostgresTable

    return PostgresTable(config.destination, list(config.mapping.values()), environ)
