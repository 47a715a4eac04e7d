"""A CRM's batch JSON API, shaped like HubSpot's:
``POST /crm/v3/objects/<type>/batch/upsert`` (and ``batch/update``, ``batch/archive``) with
``{"inputs": [{"id": <key>, "idProperty": <property>, "properties": {...}}]}``, at most 100
inputs per call; 200 when every input was applied, 207 (multi-status) with ``errors`` naming
the rejected ids, 429 with ``Retry-After`` when rate-limited, 401 for a refused token.

Calls are retried by tenacity (429, 5xx, timeouts, dropped connections), waiting what
``Retry-After`` says or an exponential backoff with jitter; a 401/403 or another 4xx for the
whole call stops the run. The base URL and the token come from environment variables whose
names the configuration gives, never from the repository."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import tenacity
from tenacity.wait import wait_base

from rfm_segmentation.sync.config import ConfigError, HttpDestination
from rfm_segmentation.sync.destinations.base import (
    AuthError,
    Destination,
    DestinationError,
    Outcome,
    Record,
)

_PATHS = {"upsert": "batch/upsert", "update": "batch/update", "remove": "batch/archive"}


class _Retryable(Exception):
    """A call worth repeating (429, 5xx)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def property_value(value: Any) -> str | None:
    """A CRM property value: text (dates ISO 8601, numbers in plain notation), null kept."""
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text if text != "-0" else "0"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _retry_after(header: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds, or an HTTP date)."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(header)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class _WaitRetryAfter(wait_base):
    """Retry-After when the CRM gave one, else exponential backoff with jitter; capped."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.backoff = tenacity.wait_random_exponential(multiplier=0.1, max=cap)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, _Retryable) and error.retry_after is not None:
            return min(error.retry_after, self.cap)
        return min(self.backoff(retry_state), self.cap)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(body)[:500]


class HttpCrm(Destination):
    def __init__(self, config: HttpDestination, environ: Mapping[str, str],
                 on_retry: Callable[[str], None] | None = None) -> None:
        base_url = environ.get(config.base_url_env)
        token = environ.get(config.token_env)
        if not base_url:
            raise ConfigError(f"destination.base_url_env: the environment variable "
                              f"{config.base_url_env} (the CRM's base URL) is not set")
        if not token:
            raise ConfigError(f"destination.token_env: the environment variable "
                              f"{config.token_env} (the CRM's access token) is not set")
        self.config = config
        self.base_url = base_url.rstrip("/")
        self.on_retry = on_retry
        self.calls = 0
        self.client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=config.timeout_seconds,
        )

    def describe(self) -> str:
        return f"CRM API {self.base_url} ({self.config.object_type}, idProperty " \
               f"{self.config.id_property})"

    def close(self) -> None:
        self.client.close()

    def _before_sleep(self, retry_state: tenacity.RetryCallState) -> None:
        if self.on_retry is not None and retry_state.outcome is not None:
            self.on_retry(str(retry_state.outcome.exception()))

    def _call(self, path: str, body: dict[str, Any]) -> httpx.Response:
        self.calls += 1
        try:
            response = self.client.post(path, json=body)
        except httpx.TimeoutException as err:
            raise _Retryable(f"timed out after {self.config.timeout_seconds}s") from err
        except httpx.TransportError as err:
            raise _Retryable(f"connection failed: {err}") from err
        if response.status_code in (401, 403):
            raise AuthError(f"the CRM refused the token ({response.status_code}: "
                            f"{_message(response)}); check {self.config.token_env}")
        if response.status_code == 429:
            raise _Retryable("rate-limited (429)", _retry_after(response.headers.get(
                "Retry-After")))
        if response.status_code >= 500:
            raise _Retryable(f"server error {response.status_code}: {_message(response)}")
        if response.status_code >= 400:
            raise DestinationError(f"the CRM refused the call ({response.status_code}): "
                                   f"{_message(response)}")
        return response

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            wait=_WaitRetryAfter(self.config.max_wait_seconds),
            stop=tenacity.stop_after_attempt(self.config.max_attempts),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._call, path, body)
        except _Retryable as err:
            raise DestinationError(f"{path}: gave up after {self.config.max_attempts} "
                                   f"calls: {err}") from err

    def send(self, action: str, records: Sequence[Record]) -> Outcome:
        id_property = self.config.id_property
        if action == "remove":
            inputs = [{"id": r.key, "idProperty": id_property} for r in records]
        else:
            inputs = [{"id": r.key, "idProperty": id_property,
                       "properties": {k: property_value(v) for k, v in r.properties.items()}}
                      for r in records]
        path = f"/crm/v3/objects/{self.config.object_type}/{_PATHS[action]}"
        response = self._post(path, {"inputs": inputs})
        keys = {r.key for r in records}
        if response.status_code == 204 or not response.content:
            return Outcome(accepted=keys)
        body = response.json()
        outcome = Outcome()
        for error in body.get("errors") or []:
            ids = (error.get("context") or {}).get("ids") or []
            for key in ids:
                if key in keys:
                    outcome.rejected[key] = (str(error.get("category", "ERROR")),
                                             str(error.get("message", "")))
        for result in body.get("results") or []:
            key = (result.get("properties") or {}).get(id_property)
            if key in keys and key not in outcome.rejected:
                outcome.accepted.add(key)
        if action == "remove" and response.status_code == 200 and not body.get("results"):
            outcome.accepted = keys - set(outcome.rejected)
        return outcome
