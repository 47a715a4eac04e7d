"""Bad input of every kind: the build either succeeds with every raw row accounted for (clean or
rejected with its reason, the history equal to the reference) or fails saying what is wrong."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg2
import pytest
import yaml

from rfm_segmentation import warehouses as engines
from test_dbt_project import (
    as_raw,
    assert_marts_match,
    assert_same_rows,
    expected_history,
    payments,
)

import reference
from conftest import ROOT, SCHEMA, PaymentRow, Warehouse, upstream_of

AS_OF = datetime(2024, 3, 15, 12, 0, 0)
CALENDAR = [
    (date(2023, 1, 1) + timedelta(days=n), (date(2023, 1, 1) + timedelta(days=n)).replace(day=1))
    for n in range(800)
]


def build_and_check(warehouse: Warehouse, rows: list[PaymentRow]) -> dict[str, int]:
    """Load, build, and check the invariants; return the row counts."""
    warehouse.load(rows, CALENDAR)
    warehouse.dbt("build", vars={"rfm_as_of": AS_OF.isoformat(sep=" ")}).assert_ok()

    counts = warehouse.query(
        f"select (select count(*) from raw.fact_payments) as raw_rows,"
        f" (select count(*) from {SCHEMA}.stg_billing__payments where rejection_reason is null)"
        f" as clean_rows, (select count(*) from {SCHEMA}.payments_rejected) as rejected_rows,"
        f" (select count(*) from {SCHEMA}.rfm_segments_history) as history_rows"
    )[0]
    assert counts["raw_rows"] == len(rows) == counts["clean_rows"] + counts["rejected_rows"]

    raw = [reference.RawPayment(*row) for row in rows]
    clean, rejected = reference.screen_payments(raw, AS_OF)
    assert (counts["clean_rows"], counts["rejected_rows"]) == (len(clean), len(rejected))
    expected = expected_history(rows, AS_OF)
    if expected:
        assert_same_rows(
            warehouse.table("rfm_segments_history", "1"), expected,
            ("snapshot_period", "user_id"),
        )
        assert_marts_match(warehouse, expected)
    else:
        assert counts["history_rows"] == 0
    return counts


def test_empty_sources_build_an_empty_history(warehouse: Warehouse) -> None:
    warehouse.load([], [])
    warehouse.dbt("build", vars={"rfm_as_of": AS_OF.isoformat(sep=" ")}).assert_ok()
    for table in ("rfm_segments_history", "rfm_segments_current", "rfm_segment_transitions",
                  "rfm_segment_summary", "payments_rejected"):
        assert warehouse.query(f"select count(*) as n from {SCHEMA}.{table}") == [{"n": 0}]


def test_every_row_rejected(warehouse: Warehouse) -> None:
    t = datetime(2024, 1, 10, 9, 0, 0)
    rows: list[PaymentRow] = [
        (None, "u1", t, Decimal("5")),
        ("   ", "u1", t, Decimal("5")),
        ("p1", None, t, Decimal("5")),
        ("p2", "", t, Decimal("5")),
        ("p3", "u1", None, Decimal("5")),
        ("p4", "u1", t, None),
        ("p5", "u1", t, Decimal("0")),
        ("p6", "u1", t, Decimal("-0.01")),
        ("p7", "u1", AS_OF, Decimal("5")),
        ("p8", "u1", AS_OF + timedelta(days=400), Decimal("5")),
    ]
    counts = build_and_check(warehouse, rows)
    assert counts == {"raw_rows": 10, "clean_rows": 0, "rejected_rows": 10, "history_rows": 0}


def test_unicode_long_ids_huge_amounts_and_conflicting_duplicates(warehouse: Warehouse) -> None:
    t = datetime(2023, 11, 3, 8, 0, 0)
    long_id = "user-" + "x" * 5000
    rows: list[PaymentRow] = [
        ("p1", "Zoë 🧾 顧客", t, Decimal("12.50")),
        ("p2", "Zoë 🧾 顧客", t + timedelta(days=40), Decimal("99999999999999999999.99")),
        ("p3", long_id, t + timedelta(days=1), Decimal("0.000001")),
        ("p4", "  u-padded  ", t + timedelta(days=2), Decimal("7")),
        ("p5", "u-tab\t", t + timedelta(days=3), Decimal("7")),
        # conflicting duplicates: the earliest date wins, then the smallest amount, then user
        ("dup", "u-late", t + timedelta(days=9), Decimal("1")),
        ("dup", "u-early", t + timedelta(days=8), Decimal("9")),
        (" dup ", "u-early-cheaper", t + timedelta(days=8), Decimal("3")),
        ("same", "u10", t, Decimal("3")),
        ("same", "u9", t, Decimal("3")),
        # an exact duplicate row
        ("p6", "u-exact", t + timedelta(days=70), Decimal("4")),
        ("p6", "u-exact", t + timedelta(days=70), Decimal("4")),
        # a payment exactly at a period start and one a microsecond before
        ("p7", "u-edge", datetime(2024, 2, 1), Decimal("1")),
        ("p8", "u-edge", datetime(2024, 2, 1) - timedelta(microseconds=1), Decimal("1")),
    ]
    counts = build_and_check(warehouse, rows)
    assert counts["rejected_rows"] == 4
    kept = {
        r["payment_id"]: r["user_id"]
        for r in warehouse.query(
            f"select payment_id, user_id from {SCHEMA}.stg_billing__payments"
            " where rejection_reason is null and payment_id in ('dup', 'same')"
        )
    }
    assert kept == {"dup": "u-early-cheaper", "same": "u10"}
    users = {r["user_id"] for r in warehouse.table("rfm_segments_current", "user_id")}
    assert {"Zoë 🧾 顧客", long_id, "u-padded", "u-tab\t"} <= users


@pytest.mark.parametrize(
    "raw_schema", ['raw"; drop table raw.fact_payments; --', "raw'; select 1; --"]
)
def test_raw_schema_var_cannot_inject_sql(warehouse: Warehouse, raw_schema: str) -> None:
    rows: list[PaymentRow] = [("p1", "u1", datetime(2024, 1, 5), Decimal("1"))]
    warehouse.load(rows, CALENDAR)
    result = warehouse.dbt(
        "build", vars={"rfm_as_of": AS_OF.isoformat(sep=" "), "raw_schema": raw_schema}
    )
    assert result.returncode != 0
    assert f"Invalid var raw_schema={raw_schema}: expected a schema name" in result.output
    assert warehouse.query("select count(*) as n from raw.fact_payments") == [{"n": 1}]


def test_no_credentials_in_the_repository_or_in_dbt_logs(warehouse: Warehouse) -> None:
    if warehouse.connection.embedded:
        # Trust auth ignores the password, but dbt receives it like any other: a fake will do.
        secret = "s3cret-" + uuid.uuid4().hex
        user = warehouse.connection.env.get("PGUSER", "postgres")
        warehouse.backend = engines.PostgresWarehouse(warehouse.connection.with_user(user, secret))
    else:
        secret = warehouse.connection.env.get("PGPASSWORD", "")
        if len(secret) < 4:
            pytest.skip("your server is used without a password: there is none to leak")
    warehouse.load([("p1", "u1", datetime(2024, 1, 5), Decimal("1"))], CALENDAR)
    warehouse.dbt("build", vars={"rfm_as_of": AS_OF.isoformat(sep=" ")}).assert_ok()
    warehouse.dbt("debug").assert_ok()
    written = [p for p in warehouse.workdir.rglob("*") if p.is_file()]
    assert written, "dbt wrote no target/log files: the check would be vacuous"
    assert [p for p in written if secret in p.read_text(errors="replace")] == []

    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    uri_with_password = re.compile(r"postgres(ql)?://[^:/\s]+:[^@/\s]+@")
    for name in tracked:
        path = ROOT / name
        if path.is_file() and path.suffix not in {".png"}:
            assert not uri_with_password.search(path.read_text(errors="replace")), name
    profile = (ROOT / "profiles.yml").read_text()
    assert "password: \"{{ env_var('PGPASSWORD', '') }}\"" in profile


# The scenarios of late and duplicated payments read the staged rows, the history and the
# current segments: they build these (and their data tests, the warning test about missing
# payments included), not the other marts.
SCREENING_BUILD = ("build", *upstream_of("rfm_segments_history"))
CURRENT_BUILD = ("build", *upstream_of("rfm_segments_current"))


def test_late_payments_before_the_lookback_are_reported_then_included_by_full_refresh(
    warehouse: Warehouse,
) -> None:
    t = datetime(2023, 9, 1, 10, 0, 0)
    rows: list[PaymentRow] = [
        (f"p{i}", f"u{i % 7}", t + timedelta(days=9 * i, hours=i), Decimal(i % 5 + 1))
        for i in range(60)
    ]
    first_as_of = datetime(2024, 2, 20)
    warehouse.load([r for r in rows if r[2] < first_as_of], CALENDAR)
    warehouse.dbt(*CURRENT_BUILD, vars={"rfm_as_of": first_as_of.isoformat(sep=" ")}).assert_ok()

    # arrives late: two payments of November 2023 (before the recomputed January-February) and
    # one of January 2024 (inside the lookback)
    late: list[PaymentRow] = [
        ("late-1", "u1", datetime(2023, 11, 5), Decimal("10")),
        ("late-2", "u-new", datetime(2023, 11, 6), Decimal("10")),
        ("late-3", "u2", datetime(2024, 1, 7), Decimal("10")),
    ]
    everything = rows + late
    warehouse.load(everything, CALENDAR)
    result = warehouse.dbt(*CURRENT_BUILD, vars={"rfm_as_of": AS_OF.isoformat(sep=" ")}).assert_ok()
    assert "WARN 2 warn_clean_payments_missing_from_history " in result.output
    current = {r["user_id"]: r for r in warehouse.table("rfm_segments_current", "user_id")}
    expected = {r["user_id"]: r for r in reference.current_segments(
        expected_history(everything, AS_OF))}
    assert current["u2"]["frequency"] == expected["u2"]["frequency"]  # inside the lookback
    assert current["u1"]["frequency"] == expected["u1"]["frequency"] - 1
    assert "u-new" not in current

    result = warehouse.dbt(
        *CURRENT_BUILD, "--full-refresh", vars={"rfm_as_of": AS_OF.isoformat(sep=" ")}
    ).assert_ok()
    # (other warnings may name the seven users' thin scores: warn_degenerate_scores)
    assert "PASS warn_clean_payments_missing_from_history " in result.output
    assert_same_rows(
        warehouse.table("rfm_segments_history", "1"), expected_history(everything, AS_OF),
        ("snapshot_period", "user_id"),
    )


def stored_staging_rows(warehouse: Warehouse) -> Counter[tuple]:
    return Counter(
        (row["payment_id"], row["user_id"], row["payment_date"], row["payment_amount"],
         row["rejection_reason"])
        for row in warehouse.table("stg_billing__payments", "1")
    )


def row_versions(warehouse: Warehouse) -> list[dict]:
    """PostgreSQL: the transactions that wrote the staged rows dated before 2024-05-01."""
    return warehouse.query(
        f"select xmin::text as written_by, count(*) as row_count"
        f" from {SCHEMA}.stg_billing__payments where payment_date < '2024-05-01'"
        f" group by 1 order by 1"
    )


def test_incremental_screening_equals_the_reference(engine_warehouse: Warehouse) -> None:
    """stg_billing__payments is incremental: a normal run screens again only the rows dated from
    the period of rfm_as_of minus the lookback. New copies of older payment_ids are duplicates,
    rows once after rfm_as_of become clean, and a late row dated before that day makes the run
    screen every row again: each run equals the reference on all raw rows."""
    warehouse = engine_warehouse
    # one period later: the slice from 2024-05-01 covers every row rejected as after_as_of before
    first_as_of, as_of = datetime(2024, 5, 22, 8, 30), datetime(2024, 6, 20, 12, 0)
    rows = [row for row in payments() if row[2] is None or row[2] < as_of]
    clean, _ = reference.screen_payments(as_raw(rows), as_of)
    old_ids = [c.payment_id for c in clean if c.payment_date < datetime(2024, 3, 1)][:20]
    assert len(old_ids) == 20
    copies: list[PaymentRow] = [  # kept payment_ids again, dated inside the rescreened slice
        (payment_id, "u-copy", datetime(2024, 6, 3, 10, 0), Decimal("1.5"))
        for payment_id in old_ids
    ] + [("p-new", "u-new", datetime(2024, 6, 4), Decimal("3")),
         ("p-new", "u-new", datetime(2024, 6, 5), Decimal("3"))]
    late = [(f"p-late-{n}", "u-late", datetime(2024, 2, 10 + n), Decimal("7")) for n in range(3)]
    runs = [  # (rfm_as_of, raw rows, rows the history counts)
        (first_as_of, rows, rows),  # the rows after first_as_of are rejected as after_as_of
        (as_of, rows + copies, rows + copies),  # only the slice from 2024-05-01 is screened
        (as_of, rows + copies, rows + copies),  # nothing changed
        # late rows before the slice: every row is screened again; the history, which recomputes
        # only its lookback, does not count them and the warning test says so
        (as_of, rows + copies + late, rows + copies),
    ]
    if warehouse.engine == "spark":
        # a Spark build costs minutes: a re-run with nothing new is checked there by
        # test_incremental_run_equals_full_refresh[spark-...]
        del runs[2]
    postgres = isinstance(warehouse.backend, engines.PostgresWarehouse)
    versions_before = None
    for number, (run_as_of, loaded, counted) in enumerate(runs):
        if postgres and number:  # which transactions wrote the rows before the slice
            versions_before = row_versions(warehouse)
        warehouse.load(loaded, CALENDAR)
        # the data tests of the last run (its warning test) are part of the scenario
        warehouse.data_tests |= number == len(runs) - 1
        result = warehouse.dbt(*SCREENING_BUILD, vars={"rfm_as_of": run_as_of.isoformat(sep=" ")})
        result.assert_ok()
        expected = Counter(reference.staged_rows(as_raw(loaded), run_as_of))
        assert stored_staging_rows(warehouse) == expected, f"staging differs at {run_as_of}"
        assert_same_rows(warehouse.table("rfm_segments_history", "1"),
                         expected_history(counted, run_as_of), ("snapshot_period", "user_id"))
        if versions_before is not None:  # runs 1 and 2 keep those rows, run 3 rewrites them
            assert (row_versions(warehouse) == versions_before) == (number < 3), number
        if postgres:
            assert_one_unique_index_on_clean_ids(warehouse)
            assert_payment_row_checks(warehouse)
    assert re.search(r"warn_clean_payments_missing_from_history.*\n.*Got 3 results", result.output)
    duplicates = [row for row in stored_staging_rows(warehouse) if row[1] == "u-copy"]
    assert {row[4] for row in duplicates} == {"duplicate_payment_id"}, "copies must be rejected"
    if postgres:  # a rebuilt table is swapped in while the old one still has its index
        warehouse.dbt(*SCREENING_BUILD, "--full-refresh",
                      vars={"rfm_as_of": as_of.isoformat(sep=" ")}).assert_ok()
        assert_one_unique_index_on_clean_ids(warehouse)
        assert_payment_row_checks(warehouse)
        with pytest.raises(psycopg2.errors.UniqueViolation):
            warehouse.execute(
                f"insert into {SCHEMA}.stg_billing__payments"
                f" select * from {SCHEMA}.stg_billing__payments"
                f" where rejection_reason is null limit 1"
            )
        # each rule of the rows, broken by a row that is otherwise clean and new
        for broken in ("null as payment_id", "null as user_id", "0 as payment_amount",
                       "'too_late' as rejection_reason"):
            column = broken.split(" as ")[1]
            values = {"payment_id": "'p-rule-check'", "user_id": "'u-rule-check'",
                      "payment_date": "timestamp '2024-01-01'", "payment_amount": "1",
                      "rejection_reason": "null", column: broken.split(" as ")[0]}
            with pytest.raises(psycopg2.errors.CheckViolation):
                warehouse.execute(
                    f"insert into {SCHEMA}.stg_billing__payments ({', '.join(values)})"
                    f" values ({', '.join(values.values())})"
                )


def assert_payment_row_checks(warehouse: Warehouse) -> None:
    """PostgreSQL enforces the rules of the staged rows with check constraints (their data tests
    run on the other engines only), the reasons being those of the accepted_values test."""
    checks = {
        row["conname"]: row["definition"] for row in warehouse.query(
            "select conname, pg_get_constraintdef(oid) as definition from pg_constraint"
            f" where contype = 'c' and conrelid = '{SCHEMA}.stg_billing__payments'::regclass"
        )
    }
    assert set(checks) == {"clean_payment_has_payment_id", "clean_payment_has_user_id",
                           "clean_payment_amount_is_positive", "rejection_reason_is_known"}
    models = yaml.safe_load((ROOT / "models/staging/billing/_billing__models.yml").read_text())
    column = next(c for c in models["models"][0]["columns"] if c["name"] == "rejection_reason")
    reasons = column["data_tests"][0]["accepted_values"]["arguments"]["values"]
    assert re.findall(r"'(\w+)'::text", checks["rejection_reason_is_known"]) == reasons


def assert_one_unique_index_on_clean_ids(warehouse: Warehouse) -> None:
    """PostgreSQL enforces unique clean payment_ids with one partial unique index (the data
    test runs on the other engines only)."""
    indexes = warehouse.query(
        f"select indexdef from pg_indexes where schemaname = '{SCHEMA}'"
        f" and tablename = 'stg_billing__payments'"
    )
    assert len(indexes) == 1, indexes
    assert re.search(r"CREATE UNIQUE INDEX .* \(payment_id\) WHERE \(rejection_reason IS NULL\)",
                     indexes[0]["indexdef"]), indexes
