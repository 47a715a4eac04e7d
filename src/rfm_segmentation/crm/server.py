"""Running the local CRM: in the foreground (`rfm crm serve`), or on a thread of this process
on a free port for the duration of a block (`make sync`, the tests)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from rfm_segmentation.crm.app import Crm, Faults, create_app
from rfm_segmentation.crm.store import Store


@dataclass
class RunningCrm:
    base_url: str
    crm: Crm


def _config(crm: Crm, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(create_app(crm), host=host, port=port, log_level=log_level,
                          access_log=False, lifespan="off")


def serve(store_path: Path | None, token: str | None, faults: Faults, host: str = "127.0.0.1",
          port: int = 8765, id_property: str = "user_id") -> None:
    """Serve until interrupted."""
    crm = Crm(Store(store_path), token, id_property, faults)
    uvicorn.Server(_config(crm, host, port, "info")).run()


@contextmanager
def running(store_path: Path | None, token: str | None, faults: Faults | None = None,
            id_property: str = "user_id", host: str = "127.0.0.1") -> Iterator[RunningCrm]:
    """The CRM on a thread, on a free port of ``host``, until the block ends."""
    crm = Crm(Store(store_path), token, id_property, faults)
    # the injected dropped connections are logged by uvicorn as application errors
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    server = uvicorn.Server(_config(crm, host, 0, "critical"))
    thread = threading.Thread(target=server.run, name="local-crm", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the local CRM did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningCrm(f"http://{host}:{port}", crm)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        crm.store.close()
