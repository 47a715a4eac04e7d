"""Read the features from the warehouse, and keep the model there as plain tables (one set of
rows per version; versions only grow), which the dbt sources ``cluster_model`` read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from psycopg2 import sql

from rfm_segmentation.clusters.model import FEATURES, ClusterModel, FitResult
from rfm_segmentation.warehouses import postgres

TABLES: dict[str, str] = {
    "cluster_model_runs": """
        model_version integer primary key, trained_at timestamp not null,
        snapshot_period date, n_users integer not null, k integer not null,
        k_selection text, silhouette double precision, inertia double precision,
        features text not null, min_segment_share double precision, n_init integer,
        random_state integer, ground_truth_ari double precision""",
    "cluster_model_scaler": """
        model_version integer not null, feature_name text not null, feature_order integer,
        feature_mean double precision not null, feature_scale double precision not null,
        primary key (model_version, feature_name)""",
    "cluster_model_centroids": """
        model_version integer not null, cluster_id integer not null, feature_name text not null,
        centroid double precision not null,
        primary key (model_version, cluster_id, feature_name)""",
    "cluster_model_clusters": """
        model_version integer not null, cluster_id integer not null, cluster_name text not null,
        users integer, share double precision, primary key (model_version, cluster_id)""",
    "cluster_model_k_curve": """
        model_version integer not null, k integer not null, inertia double precision,
        silhouette double precision, min_cluster_share double precision, is_eligible boolean,
        is_knee boolean, is_chosen boolean, primary key (model_version, k)""",
    "segment_drivers": """
        model_version integer not null, segmentation text not null, segment text not null,
        feature_name text not null, importance_mean double precision,
        importance_std double precision, importance_rank integer, segment_score double precision,
        primary key (model_version, segmentation, segment, feature_name)""",
}

#: Non-input columns of cluster_features the drivers and profiles use.
ATTRIBUTES_NUMERIC = ("days_since_signup",)
ATTRIBUTES_CATEGORY = ("country", "acquisition_channel", "age_band")


def relation_exists(connection: postgres.Connection, schema: str, name: str) -> bool:
    with postgres.cursor(connection) as cur:
        cur.execute("select to_regclass(%s) is not null",
                    (sql.Identifier(schema, name).as_string(cur.connection),))
        return bool(cur.fetchone()[0])


def _frame(connection: postgres.Connection, query: sql.Composable,
           params: Sequence[Any] | None = None) -> pd.DataFrame:
    with postgres.cursor(connection) as cur:
        cur.execute(query, params)
        names = [c.name for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=names)


def read_features(connection: postgres.Connection, schema: str,
                  period: date | None = None) -> pd.DataFrame:
    """The rows of ``cluster_features`` of one period (default: the latest), by user_id."""
    table = sql.Identifier(schema, "cluster_features")
    if period is None:
        query = sql.SQL(
            "select * from {t} where snapshot_period = (select max(snapshot_period) from {t}) "
            "order by user_id"
        ).format(t=table)
        frame = _frame(connection, query)
    else:
        query = sql.SQL(
            "select * from {} where snapshot_period = %s order by user_id"
        ).format(table)
        frame = _frame(connection, query, (period,))
    for column in (*FEATURES, "aum_per_day"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
    for column in ("recency_days", "frequency", "monetary", "tenure_days", *ATTRIBUTES_NUMERIC):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
    return frame


def model_inputs(frame: pd.DataFrame) -> tuple[tuple[str, ...], np.ndarray]:
    """The features present (a feature null for every row, e.g. AUM without balances, is left
    out) and their matrix. Rows with a missing input would not be assigned: none expected."""
    names = tuple(f for f in FEATURES if f in frame and frame[f].notna().any())
    x = frame.loc[:, list(names)].to_numpy(dtype=np.float64)
    if np.isnan(x).any():
        raise ValueError("cluster_features has missing values in " + ", ".join(names))
    return names, x


def load_latest(connection: postgres.Connection, schema: str) -> ClusterModel | None:
    """The latest stored version, or None before the first training."""
    if not relation_exists(connection, schema, "cluster_model_runs"):
        return None
    runs = _frame(connection, sql.SQL("select max(model_version) as v from {}").format(
        sql.Identifier(schema, "cluster_model_runs")))
    if runs.empty or pd.isna(runs.loc[0, "v"]):
        return None
    version = int(runs.loc[0, "v"])
    scaler = _frame(connection, sql.SQL(
        "select feature_name, feature_mean, feature_scale from {} where model_version = %s "
        "order by feature_order").format(sql.Identifier(schema, "cluster_model_scaler")),
        (version,))
    centroids = _frame(connection, sql.SQL(
        "select cluster_id, feature_name, centroid from {} where model_version = %s").format(
        sql.Identifier(schema, "cluster_model_centroids")), (version,))
    clusters = _frame(connection, sql.SQL(
        "select cluster_id, cluster_name, users from {} where model_version = %s "
        "order by cluster_id").format(sql.Identifier(schema, "cluster_model_clusters")),
        (version,))
    names = tuple(scaler["feature_name"])
    wide = centroids.pivot(index="cluster_id", columns="feature_name", values="centroid")
    wide = wide.loc[list(clusters["cluster_id"]), list(names)]
    return ClusterModel(
        feature_names=names,
        mean=scaler["feature_mean"].to_numpy(np.float64),
        scale=scaler["feature_scale"].to_numpy(np.float64),
        centers=wide.to_numpy(np.float64),
        cluster_ids=clusters["cluster_id"].to_numpy(np.int64),
        cluster_names=tuple(clusters["cluster_name"]),
        sizes=clusters["users"].fillna(0).to_numpy(np.int64),
        version=version,
    )


@dataclass(frozen=True)
class RunInfo:
    snapshot_period: date | None
    n_users: int
    min_share: float
    n_init: int
    seed: int
    ground_truth_ari: float | None = None


def _insert(cur: Any, schema: str, table: str, columns: Sequence[str],
            rows: Iterable[Sequence[Any]]) -> None:
    statement = sql.SQL("insert into {} ({}) values ({})").format(
        sql.Identifier(schema, table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    cur.executemany(statement, [tuple(_plain(v) for v in row) for row in rows])


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def save(connection: postgres.Connection, schema: str, result: FitResult, info: RunInfo,
         drivers: pd.DataFrame | None = None) -> int:
    """Store ``result`` as the next version (in one transaction; the version is taken under a
    lock on the runs table) and return it."""
    model = result.model
    conn = connection.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            for table, columns in TABLES.items():
                cur.execute(sql.SQL("create table if not exists {} (" + columns + ")").format(
                    sql.Identifier(schema, table)))
            cur.execute(sql.SQL("lock table {} in exclusive mode").format(
                sql.Identifier(schema, "cluster_model_runs")))
            cur.execute(sql.SQL("select coalesce(max(model_version), 0) + 1 from {}").format(
                sql.Identifier(schema, "cluster_model_runs")))
            version = int(cur.fetchone()[0])
            model.version = version
            n = max(info.n_users, 1)
            _insert(cur, schema, "cluster_model_runs", (
                "model_version", "trained_at", "snapshot_period", "n_users", "k", "k_selection",
                "silhouette", "inertia", "features", "min_segment_share", "n_init",
                "random_state", "ground_truth_ari"), [(
                    version, datetime.now().replace(microsecond=0), info.snapshot_period,
                    info.n_users, model.k, result.choice.selection, result.silhouette,
                    result.inertia, ",".join(model.feature_names), info.min_share, info.n_init,
                    info.seed, info.ground_truth_ari)])
            _insert(cur, schema, "cluster_model_scaler",
                    ("model_version", "feature_name", "feature_order", "feature_mean",
                     "feature_scale"),
                    [(version, f, i, model.mean[i], model.scale[i])
                     for i, f in enumerate(model.feature_names)])
            _insert(cur, schema, "cluster_model_centroids",
                    ("model_version", "cluster_id", "feature_name", "centroid"),
                    [(version, model.cluster_ids[c], f, model.centers[c, i])
                     for c in range(model.k) for i, f in enumerate(model.feature_names)])
            _insert(cur, schema, "cluster_model_clusters",
                    ("model_version", "cluster_id", "cluster_name", "users", "share"),
                    [(version, model.cluster_ids[c], model.cluster_names[c], model.sizes[c],
                      model.sizes[c] / n) for c in range(model.k)])
            _insert(cur, schema, "cluster_model_k_curve",
                    ("model_version", "k", "inertia", "silhouette", "min_cluster_share",
                     "is_eligible", "is_knee", "is_chosen"),
                    [(version, p.k, p.inertia, p.silhouette, p.min_cluster_share, p.is_eligible,
                      p.k == result.choice.knee, p.k == result.choice.k)
                     for p in result.choice.curve])
            if drivers is not None and not drivers.empty:
                columns = ("segmentation", "segment", "feature_name", "importance_mean",
                           "importance_std", "importance_rank", "segment_score")
                _insert(cur, schema, "segment_drivers", ("model_version", *columns),
                        [(version, *row) for row in
                         drivers.loc[:, list(columns)].itertuples(index=False)])
    finally:
        conn.close()
    return version


def read_table(connection: postgres.Connection, schema: str, name: str,
               where_latest: bool = True) -> pd.DataFrame | None:
    """A model table (the latest version's rows), or None when it does not exist."""
    if not relation_exists(connection, schema, name):
        return None
    table = sql.Identifier(schema, name)
    if where_latest:
        query = sql.SQL(
            "select * from {t} where model_version = (select max(model_version) from {t})"
        ).format(t=table)
    else:
        query = sql.SQL("select * from {}").format(table)
    return _frame(connection, query)
