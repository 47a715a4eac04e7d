"""A sync's configuration: one YAML file per sync (``syncs/<name>.yml``), read and checked
before anything reaches the warehouse or the destination. Every mistake names its key and what
the key accepts."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import yaml

MODES: Final = ("upsert", "update", "mirror")
DESTINATION_TYPES: Final = ("http", "postgres")
_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PROPERTY: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
MAX_HTTP_BATCH: Final = 100
"""The batch endpoints of the common CRMs take at most 100 inputs per call."""


class ConfigError(ValueError):
    """A configuration that cannot run: the message names the key and what it accepts."""


@dataclass(frozen=True)
class HttpDestination:
    base_url_env: str = "CRM_BASE_URL"
    token_env: str = "CRM_TOKEN"
    object_type: str = "contacts"
    id_property: str = "user_id"
    timeout_seconds: float = 10.0
    max_attempts: int = 6
    """calls per batch before the run stops (429, 5xx, timeouts, dropped connections)"""
    max_wait_seconds: float = 30.0
    """the longest wait between two calls, whatever Retry-After says"""

    type: str = "http"
    modes: tuple[str, ...] = MODES


@dataclass(frozen=True)
class PostgresDestination:
    table: str
    dsn_env: str = "CRM_DATABASE_URL"
    key_column: str = "user_id"

    type: str = "postgres"
    modes: tuple[str, ...] = MODES


Destination = HttpDestination | PostgresDestination


@dataclass(frozen=True)
class SyncConfig:
    name: str
    mapping: dict[str, str]
    """source column -> destination property (CRM property or table column)"""
    destination: Destination
    source_model: str = "rfm_segments_current"
    source_schema: str | None = None
    """None: the schema dbt builds into (DBT_SCHEMA, default analytics)"""
    primary_key: str = "user_id"
    mode: str = "upsert"
    batch_size: int = 100
    max_change_share: float = 0.2
    """the share of the synced records a run may change or remove without --allow-large-change"""
    max_rejections: int = 3
    """times a record the destination rejects is sent again (same values) before it is left"""
    retry_backoff_seconds: float = 600.0
    """wait before a rejected record is sent again, doubled at each rejection"""
    state_schema: str = "rfm_sync"
    sample_size: int = 5

    def config_hash(self) -> str:
        """What a run records to say which configuration it ran (changes with any setting)."""
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_TOP_KEYS: Final = {
    "name", "source", "mapping", "mode", "batch_size", "max_change_share", "max_rejections",
    "retry_backoff_seconds", "destination", "state_schema", "sample_size",
}
_SOURCE_KEYS: Final = {"model", "schema", "primary_key"}
_HTTP_KEYS: Final = {"type", "base_url_env", "token_env", "object_type", "id_property",
                     "timeout_seconds", "max_attempts", "max_wait_seconds"}
_POSTGRES_KEYS: Final = {"type", "dsn_env", "table", "key_column"}


def _unknown(where: str, given: dict[str, Any], accepted: set[str]) -> None:
    unknown = sorted(set(given) - accepted)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; accepted keys: "
                          f"{', '.join(sorted(accepted))}")


def _mapping(value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping of keys to values, got {value!r}")
    return value


def _identifier(value: Any, key: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ConfigError(f"{key}: expected a plain identifier (letters, digits, _), "
                          f"got {value!r}")
    return value


def _number(value: Any, key: str, kind: type, low: float, high: float | None = None) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or (kind is int and not isinstance(value, int)):
        raise ConfigError(f"{key}: expected {'an integer' if kind is int else 'a number'}, "
                          f"got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ConfigError(f"{key}: expected a value {bounds}, got {value!r}")
    return kind(value)


def _destination(raw: Any) -> Destination:
    raw = _mapping(raw, "destination")
    kind = raw.get("type")
    if kind not in DESTINATION_TYPES:
        raise ConfigError(f"destination.type: expected one of {', '.join(DESTINATION_TYPES)}, "
                          f"got {kind!r}")
    if kind == "http":
        _unknown("destination", raw, _HTTP_KEYS)
        http = HttpDestination()
        return HttpDestination(
            base_url_env=_identifier(raw.get("base_url_env", http.base_url_env),
                                     "destination.base_url_env"),
            token_env=_identifier(raw.get("token_env", http.token_env), "destination.token_env"),
            object_type=_identifier(raw.get("object_type", http.object_type),
                                    "destination.object_type"),
            id_property=_identifier(raw.get("id_property", http.id_property),
                                    "destination.id_property"),
            timeout_seconds=_number(raw.get("timeout_seconds", http.timeout_seconds),
                                    "destination.timeout_seconds", float, 0.01),
            max_attempts=_number(raw.get("max_attempts", http.max_attempts),
                                 "destination.max_attempts", int, 1, 100),
            max_wait_seconds=_number(raw.get("max_wait_seconds", http.max_wait_seconds),
                                     "destination.max_wait_seconds", float, 0),
        )
    _unknown("destination", raw, _POSTGRES_KEYS)
    table = raw.get("table")
    parts = table.split(".") if isinstance(table, str) else []
    if len(parts) not in (1, 2) or not all(_IDENTIFIER.match(p) for p in parts):
        raise ConfigError(f"destination.table: expected a table name, optionally schema-"
                          f"qualified (e.g. public.crm_contacts), got {table!r}")
    return PostgresDestination(
        table=table,
        dsn_env=_identifier(raw.get("dsn_env", "CRM_DATABASE_URL"), "destination.dsn_env"),
        key_column=_identifier(raw.get("key_column", "user_id"), "destination.key_column"),
    )


def parse(raw: Any, default_name: str) -> SyncConfig:
    """A checked configuration from the YAML document ``raw``."""
    raw = _mapping(raw, "the configuration")
    _unknown("the configuration", raw, _TOP_KEYS)
    source = _mapping(raw.get("source"), "source")
    _unknown("source", source, _SOURCE_KEYS)
    mapping = _mapping(raw.get("mapping"), "mapping")
    if not mapping:
        raise ConfigError("mapping: expected at least one `source_column: destination_property`")
    for column, prop in mapping.items():
        _identifier(column, f"mapping.{column}")
        if not isinstance(prop, str) or not _PROPERTY.match(prop):
            raise ConfigError(f"mapping.{column}: expected a property name (letters, digits, "
                              f"_ . -), got {prop!r}")
    if len(set(mapping.values())) != len(mapping):
        raise ConfigError("mapping: two columns map to the same property")
    mode = raw.get("mode", "upsert")
    if mode not in MODES:
        raise ConfigError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    destination = _destination(raw.get("destination"))
    if mode not in destination.modes:
        raise ConfigError(f"mode: the {destination.type} destination accepts "
                          f"{', '.join(destination.modes)}, got {mode!r}")
    key_property = (destination.id_property if isinstance(destination, HttpDestination)
                    else destination.key_column)
    if key_property in mapping.values():
        raise ConfigError(f"mapping: {key_property!r} is the destination's key "
                          f"(destination.{'id_property' if destination.type == 'http' else 'key_column'}); "  # noqa: E501
                          f"it is sent from source.primary_key, do not map it")
    batch_limit = MAX_HTTP_BATCH if destination.type == "http" else 10_000
    schema = source.get("schema")
    return SyncConfig(
        name=_identifier(raw.get("name", default_name), "name"),
        mapping={str(k): str(v) for k, v in mapping.items()},
        destination=destination,
        source_model=_identifier(source.get("model", "rfm_segments_current"), "source.model"),
        source_schema=None if schema is None else _identifier(schema, "source.schema"),
        primary_key=_identifier(source.get("primary_key", "user_id"), "source.primary_key"),
        mode=mode,
        batch_size=_number(raw.get("batch_size", 100), "batch_size", int, 1, batch_limit),
        max_change_share=_number(raw.get("max_change_share", 0.2), "max_change_share", float,
                                 0.0, 1.0),
        max_rejections=_number(raw.get("max_rejections", 3), "max_rejections", int, 1, 1000),
        retry_backoff_seconds=_number(raw.get("retry_backoff_seconds", 600),
                                      "retry_backoff_seconds", float, 0),
        state_schema=_identifier(raw.get("state_schema", "rfm_sync"), "state_schema"),
        sample_size=_number(raw.get("sample_size", 5), "sample_size", int, 0, 1000),
    )


def load(path: Path) -> SyncConfig:
    """The configuration in the YAML file at ``path`` (its name defaults to the file's stem)."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (one YAML file per sync, e.g. "
                          f"syncs/crm_contacts.yml)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    try:
        return parse(raw, path.stem)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err
