"""What one benchmark run measures: the named sizes and shapes of the data, the plan of one
data set, the options of a run, and the names the steps share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Final

from psycopg2 import sql

from rfm_segmentation import demo

SIZES: Final[dict[str, tuple[int, int]]] = {
    "S": (10_000, 24),
    "M": (100_000, 36),
    "L": (1_000_000, 36),
}
"""size -> (users, periods) of the normal shape (~19-25 payments per user)."""
SHAPES: Final = ("normal", "dense")
DENSE_USER_DIVISOR: Final = 4
"""The dense shape has a quarter of the users, each with ~80 payments over 36 months."""
DENSE_SHAPE: Final[dict[str, float]] = {
    "rate_mean_per_month": 6.3,
    "rate_shape": 2.0,
    "lifetime_mean_months": 120.0,
    "one_time_share": 0.02,
}
"""DemoSpec shape of subscriptions / savings deposits: steady, long-lived, few one-time buyers."""
LAST_PERIOD_END: Final = datetime(2025, 1, 1)
"""rfm_as_of of the measured runs: the last period (December 2024) just closed."""
RAW_SCHEMA: Final = "raw"
DBT_SCHEMA: Final = "analytics"
BENCH_SCHEMA: Final = "bench"
HISTORY_MODEL: Final = "rfm_segments_history"
HISTORY_TABLE: Final = f"{DBT_SCHEMA}.{HISTORY_MODEL}"
HISTORY_COLUMNS: Final = (
    "snapshot_at",
    "is_period_closed",
    "first_payment_at",
    "last_payment_at",
    "recency_days",
    "frequency",
    "monetary",
    "recency_percentile",
    "frequency_percentile",
    "monetary_percentile",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "rfm_segment",
    "previous_segment",
    "segment_since",
)
"""The history's columns besides its key (snapshot_period, user_id)."""
NOTHING_SELECTOR: Final = "tag:__rfm_bench_selects_nothing__"
PRODUCTION_BUILD: Final = ("build", "--exclude-resource-type", "unit_test")
"""The production job that the timed builds run (README, "Running it on a schedule"): dbt Labs
recommends running unit tests in development and CI only (their inputs are static fixtures, so
a production run repeats the same check on every schedule); ``make test`` runs them. The bench
times them apart (``dbt test --select test_type:unit``)."""
ENGINE_LABELS: Final[dict[str, str]] = {"postgres": "PostgreSQL", "duckdb": "DuckDB",
                                         "spark": "Spark"}
SPARK_MAX_SIZE: Final = "S"
"""The largest size `rfm bench --engine spark` runs without --force (a local Spark on 2 cores)."""
SIZE_ORDER: Final = {name: i for i, name in enumerate(SIZES)}


class BenchError(RuntimeError):
    """A step of the benchmark failed (dbt, SQL) or its results disagree."""


def shift_month(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def qualified(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


def quoted(name: str) -> str:
    """schema.table as a double-quoted identifier (PostgreSQL and DuckDB)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


@dataclass(frozen=True)
class BenchPlan:
    """One measured data set: its size, shape, number of periods (months) and seed."""

    size: str
    shape: str
    users: int
    periods: int
    seed: int = 42
    as_of: datetime = LAST_PERIOD_END

    @property
    def key(self) -> str:
        return f"{self.size}-{self.shape}-{self.periods}"

    @property
    def start(self) -> date:
        """First day of the first period."""
        return shift_month(self.as_of.date(), -self.periods)

    @property
    def previous_as_of(self) -> datetime:
        """rfm_as_of of the stored history: the start of the last period."""
        return datetime.combine(shift_month(self.as_of.date(), -1), datetime.min.time())

    def demo_spec(self) -> demo.DemoSpec:
        shape = DENSE_SHAPE if self.shape == "dense" else {}
        return demo.DemoSpec(
            n_users=self.users, start=self.start, as_of=self.as_of, seed=self.seed, **shape
        )


def make_plan(size: str, shape: str = "normal", periods: int | None = None,
              seed: int = 42, users: int | None = None) -> BenchPlan:
    """The plan of a named size (S, M, L) and shape; ``periods``/``users`` override the size's."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: expected one of {', '.join(SIZES)}")
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: expected one of {', '.join(SHAPES)}")
    size_users, size_periods = SIZES[size]
    if users is None:
        users = size_users // DENSE_USER_DIVISOR if shape == "dense" else size_users
    periods = size_periods if periods is None else periods
    if periods < 2:
        raise ValueError(f"periods must be at least 2, got {periods}")
    return BenchPlan(size=size, shape=shape, users=users, periods=periods, seed=seed)


@dataclass(frozen=True)
class BenchOptions:
    database: str = "rfm_bench"
    naive_timeout_s: float = 900.0
    explain: bool = False
    workdir: Path | None = None  # default: <root>/.local/bench/<database or engine>
    engine: str = "postgres"  # postgres, duckdb or spark (warehouses.ENGINES)
    events: bool = False  # rfm_events: build the identity graph's models (no data here)


def run_key(plan: BenchPlan, engine: str = "postgres") -> str:
    """The key of a run in results.json: the plan's key, suffixed by the engine unless it is
    PostgreSQL (the runs measured before there were engines keep their keys)."""
    return plan.key if engine == "postgres" else f"{plan.key}-{engine}"
