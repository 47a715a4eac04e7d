"""The report's cluster sections, drawn only when `rfm clusters` has stored a model:
the elbow and silhouette curves, users by cluster (recency vs monetary), the profile heatmap of
both segmentations and the drivers (permutation importances)."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from psycopg2 import sql

from rfm_segmentation.clusters import store
from rfm_segmentation.warehouses import postgres

DPI = 120
PROFILE_FEATURES = ("recency_days", "frequency", "monetary", "tenure_days", "aum_per_day",
                    "days_since_signup")
MAX_CATEGORY_COLUMNS = 8
SCATTER_MAX_POINTS = 5000


@dataclass(frozen=True)
class ClusterSections:
    html: str
    pngs: dict[str, bytes]
    payload: dict[str, object]


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _img(png: bytes, alt: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}">'


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def draw_k_curve(curve: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    elbow, silhouette = fig.subplots(1, 2)
    chosen = curve[curve["is_chosen"]]
    knee = curve[curve["is_knee"]]
    elbow.plot(curve["k"], curve["inertia"], marker="o", color="#1f77b4")
    elbow.scatter(knee["k"], knee["inertia"], s=160, facecolors="none", edgecolors="#e8684a",
                  linewidths=2, label="knee", zorder=3)
    elbow.scatter(chosen["k"], chosen["inertia"], s=60, color="#1a7f37", label="chosen k",
                  zorder=4)
    elbow.set(title="Elbow: within-cluster sum of squares", xlabel="k", ylabel="WCSS")
    elbow.legend()
    with_s = curve[curve["silhouette"].notna()]
    silhouette.plot(with_s["k"], with_s["silhouette"], marker="o", color="#6a3d9a")
    ineligible = with_s[~with_s["is_eligible"]]
    silhouette.scatter(ineligible["k"], ineligible["silhouette"], marker="x", color="#9e9e9e",
                       s=60, label="not allowed (k outside 3-8 or a cluster too small)",
                       zorder=3)
    silhouette.scatter(chosen["k"], chosen["silhouette"], s=60, color="#1a7f37",
                       label="chosen k", zorder=4)
    silhouette.set(title="Silhouette", xlabel="k", ylabel="mean silhouette")
    silhouette.legend(fontsize=8)
    for ax in (elbow, silhouette):
        ax.set_xticks(list(curve["k"]))
        ax.grid(alpha=0.3)
    return fig


def draw_scatter(points: pd.DataFrame, names: Sequence[str]) -> Figure:
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = fig.add_subplot()
    palette = colormaps["tab10"]
    for i, name in enumerate(names):
        mine = points[points["cluster_name"] == name]
        ax.scatter(mine["recency_days"], mine["monetary"].clip(lower=0.01), s=9, alpha=0.6,
                   color=palette(i % 10), label=f"{name} ({len(mine):,})")
    ax.set_yscale("log")
    ax.set(xlabel="recency (days since the last payment)", ylabel="monetary (log scale)",
           title="Users by cluster: recency vs monetary")
    ax.legend(fontsize=8, markerscale=2)
    ax.grid(alpha=0.3)
    return fig


def _heatmap(ax: Axes, matrix: pd.DataFrame, significant: pd.DataFrame, title: str) -> object:
    values = np.log2(np.clip(matrix.to_numpy(float) / 100.0, 1 / 16, 16))
    image = ax.imshow(np.nan_to_num(values), cmap="RdBu_r", aspect="auto",
                      norm=TwoSlopeNorm(vcenter=0.0, vmin=-4, vmax=4))
    ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(matrix.shape[0]), matrix.index, fontsize=8)
    for (r, c), value in np.ndenumerate(matrix.to_numpy(float)):
        if np.isnan(value):
            continue
        star = "*" if bool(significant.iat[r, c]) else ""
        ax.text(c, r, f"{value:.0f}{star}", ha="center", va="center", fontsize=7,
                color="black" if abs(values[r, c]) < 2.5 else "white")
    ax.set_title(title, fontsize=10)
    return image


def _profile_matrix(profiles: pd.DataFrame, segmentation: str
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = profiles[profiles["segmentation"] == segmentation].copy()
    rows["column"] = np.where(rows["category"].isna(), rows["feature_name"],
                              rows["feature_name"] + "=" + rows["category"].fillna(""))
    numeric = [f for f in PROFILE_FEATURES if f in set(rows["column"])]
    categories = rows[rows["category"].notna() & rows["is_significant"]]
    strongest = (categories.assign(strength=np.abs(np.log(
        categories["index_vs_population"].clip(lower=1e-6) / 100.0)))
        .groupby("column")["strength"].max().sort_values(ascending=False))
    columns = numeric + list(strongest.index[:MAX_CATEGORY_COLUMNS])
    index = rows.pivot_table(index="segment", columns="column", values="index_vs_population",
                             aggfunc="first").reindex(columns=columns)
    significant = rows.pivot_table(index="segment", columns="column", values="is_significant",
                                   aggfunc="first").reindex(columns=columns).fillna(False)
    return index, significant.reindex(index.index)


def draw_profiles(profiles: pd.DataFrame) -> Figure:
    parts = [s for s in ("cluster", "rfm") if (profiles["segmentation"] == s).any()]
    matrices = [_profile_matrix(profiles, s) for s in parts]
    heights = [max(len(m[0]), 1) for m in matrices]
    fig = Figure(figsize=(12, 1.5 + 0.42 * sum(heights) + 1.8 * len(parts)), layout="constrained")
    axes = fig.subplots(len(parts), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)
    image = None
    for ax, part, (matrix, significant) in zip(axes[:, 0], parts, matrices, strict=True):
        title = {"cluster": "Clusters", "rfm": "R x F segments"}[part]
        image = _heatmap(ax, matrix, significant,
                         f"{title}: index vs population (100 = average; * significant, BH 5 %)")
    if image is not None:
        fig.colorbar(image, ax=list(axes[:, 0]), label="log2(index / 100)", shrink=0.6)
    return fig


def draw_drivers(drivers: pd.DataFrame) -> Figure:
    parts = [s for s in ("cluster", "rfm") if (drivers["segmentation"] == s).any()]
    n_segments = int(drivers.groupby("segmentation")["segment"].nunique().sum())
    fig = Figure(figsize=(12, 1.5 + 0.42 * n_segments + 1.8 * len(parts)), layout="constrained")
    axes = fig.subplots(len(parts), 1, squeeze=False)
    for ax, part in zip(axes[:, 0], parts, strict=True):
        rows = drivers[drivers["segmentation"] == part]
        matrix = rows.pivot_table(index="segment", columns="feature_name",
                                  values="importance_mean", aggfunc="first")
        matrix = matrix[matrix.mean().sort_values(ascending=False).index]
        image = ax.imshow(matrix.to_numpy(float), cmap="Greens", aspect="auto", vmin=0)
        ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=35, ha="right",
                      fontsize=8)
        ax.set_yticks(range(matrix.shape[0]), matrix.index, fontsize=8)
        for (r, c), value in np.ndenumerate(matrix.to_numpy(float)):
            if not np.isnan(value):
                ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=7)
        title = {"cluster": "Clusters", "rfm": "R x F segments"}[part]
        ax.set_title(f"{title}: drop of balanced accuracy when the feature is shuffled",
                     fontsize=10)
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def describe(profiles: pd.DataFrame, top: int = 4) -> pd.DataFrame:
    """Per segment, the strongest significant over- and under-indexes, in words."""
    rows = []
    for (segmentation, segment), group in profiles.groupby(["segmentation", "segment"],
                                                           sort=True):
        hits = group[group["is_significant"] & group["index_vs_population"].notna()].copy()
        hits["strength"] = np.abs(np.log(hits["index_vs_population"].clip(lower=1e-6) / 100))
        hits = hits.sort_values("strength", ascending=False).head(top)
        words = [
            (f"{r.feature_name}={r.category}" if isinstance(r.category, str) else r.feature_name)
            + f" {r.index_vs_population:.0f} (p_adj {r.p_value_adjusted:.1g})"
            for r in hits.itertuples()
        ]
        rows.append({"segmentation": segmentation, "segment": segment,
                     "users": int(group["segment_users"].max()),
                     "over/under-indexes (index, BH-adjusted p)": "; ".join(words) or "-"})
    return pd.DataFrame(rows)


def build(connection: postgres.Connection, schema: str, out_dir: Path) -> ClusterSections | None:
    """The sections, or None when no model is stored (or the cluster marts are not built)."""
    curve = store.read_table(connection, schema, "cluster_model_k_curve")
    clusters = store.read_table(connection, schema, "cluster_model_clusters")
    if curve is None or clusters is None or curve.empty or not all(
        store.relation_exists(connection, schema, t)
        for t in ("cluster_assignments", "segment_profiles", "cluster_features")
    ):
        return None
    with postgres.cursor(connection) as cur:
        cur.execute(sql.SQL(
            "select a.cluster_name, f.recency_days, cast(f.monetary as double precision)"
            " as monetary from {a} as a inner join {f} as f using (snapshot_period, user_id)"
            " where a.snapshot_period = (select max(snapshot_period) from {a})"
            " order by a.user_id").format(a=sql.Identifier(schema, "cluster_assignments"),
                                          f=sql.Identifier(schema, "cluster_features")))
        points = pd.DataFrame(cur.fetchall(), columns=["cluster_name", "recency_days",
                                                       "monetary"])
        cur.execute(sql.SQL("select * from {}").format(
            sql.Identifier(schema, "segment_profiles")))
        names = [c.name for c in cur.description]
        profiles = pd.DataFrame(cur.fetchall(), columns=names)
    if points.empty:
        return None
    for column in ("index_vs_population", "p_value_adjusted", "segment_mean"):
        profiles[column] = profiles[column].astype(float)
    drivers = store.read_table(connection, schema, "segment_drivers")
    curve = curve.sort_values("k")
    clusters = clusters.sort_values("cluster_id")
    if len(points) > SCATTER_MAX_POINTS:
        points = points.sample(SCATTER_MAX_POINTS, random_state=0)
    pngs = {
        "cluster_k_curve": _png(draw_k_curve(curve)),
        "cluster_scatter": _png(draw_scatter(points, list(clusters["cluster_name"]))),
        "segment_profiles": _png(draw_profiles(profiles)),
    }
    if drivers is not None and not drivers.empty:
        pngs["segment_drivers"] = _png(draw_drivers(drivers))
    for name, png in pngs.items():
        (out_dir / f"{name}.png").write_bytes(png)
    chosen = curve[curve["is_chosen"]].iloc[0]
    version = int(clusters["model_version"].iloc[0])
    summary = clusters.loc[:, ["cluster_id", "cluster_name", "users", "share"]].assign(
        share=lambda f: (f["share"].astype(float) * 100).round(1).astype(str) + " %")
    curve_table = curve.loc[:, ["k", "inertia", "silhouette", "min_cluster_share",
                                "is_eligible", "is_knee", "is_chosen"]].round(3)
    parts = [
        f"<h2>Clusters (k-means model v{version}, k = {int(chosen['k'])})</h2>",
        "<p>Data-driven segments beside the R × F rules: k-means on the standardised "
        "log RFM, tenure and AUM per day (docs/clusters.md). Each name comes from the "
        "cluster's centroid.</p>",
        _table(summary),
        "<h3>Choosing k</h3>",
        "<p>Within-cluster sum of squares for k = 1..10 (the elbow) and the silhouette; k is "
        "the best silhouette near the knee among 3-8 with no cluster below the minimum share."
        "</p>",
        _img(pngs["cluster_k_curve"], "elbow and silhouette curves"),
        f"<details><summary>The curve</summary>{_table(curve_table)}</details>",
        "<h3>Clusters: recency vs monetary</h3>",
        _img(pngs["cluster_scatter"], "users by cluster, recency vs monetary"),
        "<h2>Segment profiles</h2>",
        "<p>Index = 100 × segment mean / population mean (for a category: its share); "
        "* = significant after Benjamini-Hochberg at 5 % (Welch t for numbers, two-proportion "
        "z for categories). From segment_profiles.</p>",
        _img(pngs["segment_profiles"], "profile heatmap"),
        _table(describe(profiles)),
    ]
    if "segment_drivers" in pngs:
        parts += [
            "<h2>What drives each segment</h2>",
            "<p>A random forest predicts the segment from the features; a feature's importance "
            "for a segment is how much its one-vs-rest balanced accuracy drops on held-out "
            "users when that feature is shuffled (table segment_drivers).</p>",
            _img(pngs["segment_drivers"], "permutation importances per segment"),
        ]
    payload = {
        "model_version": version,
        "k": int(chosen["k"]),
        "clusters": json.loads(summary.to_json(orient="records")),
    }
    encoded = json.dumps(payload, indent=1).replace("</", "<\\/")
    parts.append(f'<script type="application/json" id="cluster-data">\n{encoded}\n</script>')
    return ClusterSections("\n".join(parts), pngs, payload)
