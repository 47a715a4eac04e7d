"""The local CRM: a Starlette app with the batch contract of HubSpot's CRM API over a
:class:`~rfm_segmentation.crm.store.Store`, and switches that inject the faults a real CRM
shows (rate limits, 5xx, timeouts, slow answers, per-record validation errors, a connection
dropped after the batch was applied).

    POST /crm/v3/objects/{type}/batch/upsert   {"inputs": [{"id", "idProperty", "properties"}]}
    POST /crm/v3/objects/{type}/batch/update   same; a record that does not exist is an error
    POST /crm/v3/objects/{type}/batch/archive  {"inputs": [{"id", "idProperty"}]} -> 204
    GET  /_admin/records/{type}                the live records: {id: properties}
    GET  /_admin/stats                         calls, created, updated, restored, archived
    GET|POST /_admin/faults                    read or replace the fault switches
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from rfm_segmentation.crm.store import Store

MAX_INPUTS: Final = 100
MAX_VALUE_LENGTH: Final = 65_536


@dataclass
class Faults:
    """Each share is the probability that a call (or a record, for ``reject``) meets it."""

    rate_limit: float = 0.0
    retry_after: float = 1.0
    """seconds the 429 answers ask the client to wait"""
    server_error: float = 0.0
    timeout: float = 0.0
    hang_seconds: float = 5.0
    """how long a timed-out call hangs before the CRM applies it anyway"""
    slow_ms: float = 0.0
    """added to every call"""
    reject: float = 0.0
    reject_ids: list[str] = field(default_factory=list)
    """ids always rejected (a record the CRM will never take)"""
    drop_after_apply: float = 0.0
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault {sorted(unknown)[0]!r}; known: "
                             f"{', '.join(sorted(known))}")
        return cls(**values)


class _DroppedAfterApply(Response):
    """Starts a 200 answer, sends part of it, then fails: the server closes the connection
    mid-body, as a proxy or a crash would after the CRM applied the batch."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"status": "COMPL',
                    "more_body": True})
        raise ConnectionAbortedError("fault injected: connection dropped after apply")


class Crm:
    def __init__(self, store: Store, token: str | None, id_property: str = "user_id",
                 faults: Faults | None = None) -> None:
        self.store = store
        self.token = token
        self.id_property = id_property
        self.faults = faults or Faults()
        self.random = random.Random(self.faults.seed)
        self.calls = 0
        self.faults_served: dict[str, int] = {}

    def _authorized(self, request: Request) -> bool:
        return self.token is None or request.headers.get("authorization") == \
            f"Bearer {self.token}"

    def _count(self, fault: str) -> None:
        self.faults_served[fault] = self.faults_served.get(fault, 0) + 1

    async def batch(self, request: Request) -> Response:
        self.calls += 1
        if not self._authorized(request):
            return JSONResponse({"status": "error", "category": "INVALID_AUTHENTICATION",
                                 "message": "Authentication credentials not found or invalid"},
                                status_code=401)
        if request.path_params["operation"] not in ("upsert", "update", "archive"):
            return JSONResponse({"message": "not found"}, status_code=404)
        faults = self.faults
        if faults.slow_ms:
            await asyncio.sleep(faults.slow_ms / 1000)
        if self.random.random() < faults.rate_limit:
            self._count("rate_limit")
            return JSONResponse({"status": "error", "category": "RATE_LIMITS",
                                 "message": "You have reached your secondly limit."},
                                status_code=429,
                                headers={"Retry-After": f"{faults.retry_after:g}"})
        if self.random.random() < faults.server_error:
            self._count("server_error")
            return JSONResponse({"status": "error", "message": "internal error"},
                                status_code=self.random.choice((500, 502, 503)))
        hang = self.random.random() < faults.timeout
        drop = self.random.random() < faults.drop_after_apply
        try:
            body = await request.json()
            inputs = body["inputs"]
            assert isinstance(inputs, list)
        except (ValueError, KeyError, AssertionError, TypeError):
            return JSONResponse({"status": "error", "category": "VALIDATION_ERROR",
                                 "message": "expected a JSON body {\"inputs\": [...]}"},
                                status_code=400)
        if len(inputs) > MAX_INPUTS:
            return JSONResponse({"status": "error", "category": "VALIDATION_ERROR",
                                 "message": f"at most {MAX_INPUTS} inputs per call, "
                                 f"got {len(inputs)}"}, status_code=400)
        object_type = request.path_params["object_type"]
        operation = request.path_params["operation"]
        if hang:  # the client gives up first; the CRM applies the batch all the same
            self._count("timeout")
            await asyncio.sleep(faults.hang_seconds)
        response = self._apply(object_type, operation, inputs)
        if drop:
            self._count("drop_after_apply")
            return _DroppedAfterApply()
        return response

    def _validate(self, item: Any, with_properties: bool) -> tuple[str | None, str | None]:
        """(id, None) or (id or None, the validation message)."""
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) \
                or not item["id"]:
            return None, "each input needs a non-empty string id"
        key = item["id"]
        if item.get("idProperty") != self.id_property:
            return key, (f"idProperty {item.get('idProperty')!r} is not a unique property;"
                         f" use {self.id_property!r}")
        if with_properties:
            properties = item.get("properties")
            if not isinstance(properties, dict):
                return key, "properties must be an object"
            for name, value in properties.items():
                if value is not None and (not isinstance(value, str)
                                          or len(value) > MAX_VALUE_LENGTH):
                    return key, f"Property values were not valid: {name!r} must be a " \
                                f"string of at most {MAX_VALUE_LENGTH} characters"
        if key in self.faults.reject_ids or self.random.random() < self.faults.reject:
            self._count("reject")
            return key, f"Property values were not valid: record {key!r} failed validation"
        return key, None

    def _apply(self, object_type: str, operation: str, inputs: list[Any]) -> Response:
        errors: list[dict[str, Any]] = []
        valid: list[tuple[str, dict[str, Any]]] = []
        for item in inputs:
            key, problem = self._validate(item, operation != "archive")
            if problem is not None:
                errors.append({"status": "error", "category": "VALIDATION_ERROR",
                               "message": problem, "context": {"ids": [key] if key else []}})
            else:
                assert key is not None
                valid.append((key, dict(item.get("properties") or {})))
        if operation == "archive":
            self.store.archive(object_type, [key for key, _ in valid])
            if not errors:
                return Response(status_code=204)
            return JSONResponse({"status": "COMPLETE", "results": [], "errors": errors,
                                 "numErrors": len(errors)}, status_code=207)
        applied = self.store.upsert(object_type, valid, create=operation == "upsert")
        found = {key for key, *_ in applied}
        for key, _ in valid:
            if key not in found:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "message": f"Could not get some {object_type} objects, they "
                               f"may be deleted or not exist: {key}",
                               "context": {"ids": [key]}})
        results = [{"id": str(crm_id), "properties": {**props, self.id_property: key},
                    "new": created} for key, crm_id, props, created in applied]
        body = {"status": "COMPLETE", "results": results}
        if errors:
            body.update(errors=errors, numErrors=len(errors))
        return JSONResponse(body, status_code=207 if errors else 200)

    async def records(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse({"message": "unauthorized"}, status_code=401)
        return JSONResponse(self.store.records(request.path_params["object_type"]))

    async def stats(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse({"message": "unauthorized"}, status_code=401)
        return JSONResponse({"calls": self.calls, **self.store.counters(),
                             "faults": self.faults_served})

    async def fault_switches(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse({"message": "unauthorized"}, status_code=401)
        if request.method == "POST":
            try:
                self.faults = Faults.from_dict(await request.json())
            except (ValueError, TypeError) as err:
                return JSONResponse({"message": str(err)}, status_code=400)
            self.random = random.Random(self.faults.seed)
        return JSONResponse(asdict(self.faults))


def create_app(crm: Crm) -> Starlette:
    return Starlette(routes=[
        Route("/crm/v3/objects/{object_type}/batch/{operation:str}", crm.batch,
              methods=["POST"]),
        Route("/_admin/records/{object_type}", crm.records, methods=["GET"]),
        Route("/_admin/stats", crm.stats, methods=["GET"]),
        Route("/_admin/faults", crm.fault_switches, methods=["GET", "POST"]),
    ])
