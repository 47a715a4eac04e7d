"""The visual report: segment mix over time, the latest transition matrix and the R x F grid.

``build_report`` reads only the public marts (``rfm_segment_summary``,
``rfm_segment_transitions``, ``rfm_segments_current``) and the seed ``rfm_segment_map`` of one
schema, draws three charts with matplotlib (Agg, through ``matplotlib.figure.Figure``: no pyplot
state) and writes them as PNGs next to a self-contained ``report.html`` that embeds the PNGs as
data URIs, the numbers as small tables, and the same numbers as JSON
(``<script type="application/json" id="report-data">``).
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from matplotlib import colormaps
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from rich.console import Console

from rfm_segmentation import warehouses
from rfm_segmentation.report_scores import fetch_scores, html_table, scores_json, scores_section
from rfm_segmentation.warehouses import postgres

#: Display order of the segments of SPEC.md, best customers first. Segments a business user adds
#: to the seed come after these, alphabetically.
SEGMENT_ORDER: tuple[str, ...] = (
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Cannot Lose Them",
    "Hibernating",
)

#: Fixed colours: greens for the best, blues for the young, yellow/orange for the fading, reds for
#: the valuable ones slipping away, grey for the dormant.
SEGMENT_COLOURS: Mapping[str, str] = {
    "Champions": "#1a7f37",
    "Loyal Customers": "#4caf50",
    "Potential Loyalists": "#a5d66f",
    "New Customers": "#17a2b8",
    "Promising": "#8fd3e8",
    "Need Attention": "#f2c94c",
    "About to Sleep": "#f0a35e",
    "At Risk": "#e8684a",
    "Cannot Lose Them": "#b3261e",
    "Hibernating": "#9e9e9e",
}

NEW_USERS_LABEL = "new users"
"""Row label of the transitions whose ``from_segment`` is null (users new in the period)."""

DPI = 120


@dataclass(frozen=True)
class ReportData:
    """Exactly the numbers the charts plot, and where the files are.

    ``mix``: users per (period, segment), as in ``rfm_segment_summary`` (every period).
    ``transitions``: users per (from_segment, to_segment) of ``transitions_period``, the latest
    period of ``rfm_segment_transitions``; ``from_segment`` None = users new in the period.
    ``grid``: users of ``rfm_segments_current`` per (recency_score, frequency_score), every cell of
    ``segment_map`` included (0 when empty).
    ``scores``: users of ``rfm_segments_current`` per (metric, score), every score 1-5 included.
    """

    latest_period: date | None
    snapshot_at: datetime | None
    is_period_closed: bool | None
    transitions_period: date | None
    segments: tuple[str, ...]
    segment_map: dict[tuple[int, int], str]
    mix: dict[tuple[date, str], int]
    transitions: dict[tuple[str | None, str], int]
    grid: dict[tuple[int, int], int]
    scores: dict[tuple[str, int], int]
    segment_mix_png: Path
    transitions_png: Path
    rf_grid_png: Path
    html: Path

    def to_json(self) -> dict[str, Any]:
        """The numbers as JSON-ready values (dates as ISO strings, keys spelled out)."""
        return {
            "latest_period": _iso(self.latest_period),
            "snapshot_at": _iso(self.snapshot_at),
            "is_period_closed": self.is_period_closed,
            "transitions_period": _iso(self.transitions_period),
            "segments": list(self.segments),
            "mix": [
                {"period": p.isoformat(), "segment": s, "users": n}
                for (p, s), n in sorted(self.mix.items(), key=lambda kv: _mix_key(kv[0], self))
            ],
            "transitions": [
                {"from_segment": f, "to_segment": t, "users": n}
                for (f, t), n in sorted(
                    self.transitions.items(), key=lambda kv: _transition_key(kv[0], self)
                )
            ],
            "grid": [
                {
                    "recency_score": r,
                    "frequency_score": f,
                    "segment": self.segment_map.get((r, f)),
                    "users": n,
                }
                for (r, f), n in sorted(self.grid.items())
            ],
            "scores": scores_json(self.scores),
        }


@dataclass(frozen=True)
class _Marts:
    """What the report reads from the warehouse."""

    latest_period: date | None
    snapshot_at: datetime | None
    is_period_closed: bool | None
    transitions_period: date | None
    segment_map: dict[tuple[int, int], str]
    mix: dict[tuple[date, str], int]
    transitions: dict[tuple[str | None, str], int]
    grid: dict[tuple[int, int], int]
    scores: dict[tuple[str, int], int]


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _rank(segment: str | None, segments: Sequence[str]) -> tuple[int, str]:
    if segment is None:
        return (-1, "")
    return (segments.index(segment), segment) if segment in segments else (len(segments), segment)


def _mix_key(key: tuple[date, str], data: ReportData) -> tuple[date, tuple[int, str]]:
    return key[0], _rank(key[1], data.segments)


def _transition_key(
    key: tuple[str | None, str], data: ReportData
) -> tuple[tuple[int, str], tuple[int, str]]:
    return _rank(key[0], data.segments), _rank(key[1], data.segments)


# --- reading ---------------------------------------------------------------------------------


def _fetch(warehouse: warehouses.Warehouse, schema: str) -> _Marts:
    """Read the marts in one read-only, repeatable-read transaction (one consistent snapshot)."""

    def table(name: str) -> str:
        return warehouse.quote(schema, name)

    with warehouse.cursor() as cur:
        if warehouse.engine == "postgres":
            cur.execute("set transaction isolation level repeatable read, read only")
        cur.execute(
            f"select recency_score, frequency_score, rfm_segment from {table('rfm_segment_map')}"
        )
        segment_map = {(int(r), int(f)): str(s) for r, f, s in cur.fetchall()}

        cur.execute(
            "select snapshot_period, rfm_segment, users"
            f" from {table('rfm_segment_summary')}"
        )
        mix = {(p, str(s)): int(n) for p, s, n in cur.fetchall()}

        transitions_table = table("rfm_segment_transitions")
        cur.execute(
            f"select snapshot_period, from_segment, to_segment, users from {transitions_table}"
            f" where snapshot_period = (select max(snapshot_period) from {transitions_table})"
        )
        rows = cur.fetchall()
        transitions_period = rows[0][0] if rows else None
        transitions = {(f, str(t)): int(n) for _, f, t, n in rows}

        cur.execute(
            "select max(snapshot_period), max(snapshot_at), bool_and(is_period_closed)"
            f" from {table('rfm_segments_current')}"
        )
        latest_period, snapshot_at, is_period_closed = cur.fetchone()

        cur.execute(
            "select recency_score, frequency_score, count(*)"
            f" from {table('rfm_segments_current')} group by recency_score, frequency_score"
        )
        grid = dict.fromkeys(segment_map, 0)
        grid.update({(int(r), int(f)): int(n) for r, f, n in cur.fetchall()})
        scores = fetch_scores(cur, table("rfm_segments_current"))

    return _Marts(
        latest_period=latest_period,
        snapshot_at=snapshot_at,
        is_period_closed=is_period_closed,
        transitions_period=transitions_period,
        segment_map=segment_map,
        mix=mix,
        transitions=transitions,
        grid=grid,
        scores=scores,
    )


def ordered_segments(names: Iterable[str | None]) -> tuple[str, ...]:
    """The known segments in ``SEGMENT_ORDER`` first, then any others alphabetically."""
    present = {n for n in names if n is not None}
    known = [s for s in SEGMENT_ORDER if s in present]
    return (*known, *sorted(present - set(SEGMENT_ORDER)))


def segment_colours(segments: Sequence[str]) -> dict[str, str | tuple[float, ...]]:
    """The fixed colour of each segment; segments unknown to SEGMENT_COLOURS get tab20 colours
    in their display order."""
    extra = colormaps["tab20"]
    colours: dict[str, str | tuple[float, ...]] = {}
    unknown = 0
    for segment in segments:
        if segment in SEGMENT_COLOURS:
            colours[segment] = SEGMENT_COLOURS[segment]
        else:
            colours[segment] = tuple(extra(unknown % 20))
            unknown += 1
    return colours


def _text_colour(colour: str | tuple[float, ...]) -> str:
    r, g, b = to_rgb(colour)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _period_label(periods: Sequence[date]) -> str:
    """``%Y-%m`` for months, the ISO week for weeks."""
    if periods and all(p.day == 1 for p in periods) and (
        len(periods) == 1 or min((b - a).days for a, b in pairwise(periods)) >= 28
    ):
        return "%Y-%m"
    return "%G-W%V"


def _no_data(fig: Figure, message: str) -> Figure:
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12)
    return fig


# --- charts ----------------------------------------------------------------------------------


def draw_segment_mix(
    mix: Mapping[tuple[date, str], int],
    segments: Sequence[str],
    colours: Mapping[str, str | tuple[float, ...]],
) -> Figure:
    """Stacked shares of users per segment and period, with the users per period above."""
    fig = Figure(figsize=(12, 6.5), layout="constrained")
    periods = sorted({p for p, _ in mix})
    if not periods:
        return _no_data(fig, "rfm_segment_summary is empty: no periods to show")
    totals = [sum(n for (p, _), n in mix.items() if p == period) for period in periods]
    top, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 4])
    x = list(range(len(periods)))

    top.bar(x, totals, width=0.8, color="#607d8b")
    top.set_ylabel("users")
    top.set_title("Segment mix over time: share of each period's users (rfm_segment_summary)")
    top.grid(axis="y", alpha=0.3)
    top.spines[["top", "right"]].set_visible(False)

    bottom = [0.0] * len(periods)
    # Stack the worst segment at the bottom, so that the legend (best first) reads top-down in
    # the same order as the stack.
    for segment in reversed(segments):
        shares = [
            mix.get((period, segment), 0) / total if total else 0.0
            for period, total in zip(periods, totals, strict=True)
        ]
        ax.bar(x, shares, width=0.8, bottom=bottom, color=colours[segment], label=segment,
               edgecolor="white", linewidth=0.3 if len(periods) <= 40 else 0)
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    ax.set_ylim(0, 1)
    ax.set_xlim(-0.6, len(periods) - 0.4)
    ax.yaxis.set_major_formatter("{x:.0%}")
    ax.set_ylabel("share of users")
    fmt = _period_label(periods)
    step = max(1, -(-len(periods) // 16))
    ax.set_xticks(x[::step], [p.strftime(fmt) for p in periods[::step]], rotation=45, ha="right")
    ax.set_xlabel("snapshot period")
    ax.spines[["top", "right"]].set_visible(False)
    fig.legend(
        handles=[Patch(color=colours[s], label=s) for s in segments],
        loc="outside right center",
        frameon=False,
        title="segment",
    )
    return fig


def draw_transitions(
    transitions: Mapping[tuple[str | None, str], int],
    segments: Sequence[str],
    period: date | None,
) -> Figure:
    """Heatmap from_segment x to_segment: colour = share of the row, number = users."""
    fig = Figure(figsize=(11, 8.5), layout="constrained")
    if not transitions or period is None:
        return _no_data(fig, "rfm_segment_transitions is empty (a single period has no moves)")
    present = ordered_segments([s for pair in transitions for s in pair])
    cols = [s for s in segments if s in present]
    rows: list[str | None] = [None, *cols] if any(f is None for f, _ in transitions) else [*cols]
    row_totals = [sum(n for (f, _), n in transitions.items() if f == r) for r in rows]
    col_totals = [sum(n for (_, t), n in transitions.items() if t == c) for c in cols]
    shares = [
        [transitions.get((r, c), 0) / total if total else 0.0 for c in cols]
        for r, total in zip(rows, row_totals, strict=True)
    ]
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            count = transitions.get((r, c))
            if count:
                ax.text(j, i, f"{count:,}", ha="center", va="center", fontsize=9,
                        color="white" if shares[i][j] > 0.55 else "black")
            if r == c:
                ax.add_patch(Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False,
                                       edgecolor="#555555", linewidth=1, zorder=3))
    ax.set_xticks(range(len(cols)),
                  [f"{c} ({n:,})" for c, n in zip(cols, col_totals, strict=True)],
                  rotation=35, ha="right", rotation_mode="anchor")
    row_labels = [r or NEW_USERS_LABEL for r in rows]
    ax.set_yticks(range(len(rows)),
                  [f"{r} ({n:,})" for r, n in zip(row_labels, row_totals, strict=True)])
    ax.set_xticks([x + 0.5 for x in range(len(cols) - 1)], minor=True)
    ax.set_yticks([y + 0.5 for y in range(len(rows) - 1)], minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel(f"to segment in {period.isoformat()} (users)")
    ax.set_ylabel("from segment in the previous period (users)")
    ax.set_title(
        f"Segment transitions into {period.isoformat()}: numbers = users, "
        "colour = row-normalised share of the from-segment"
    )
    fig.colorbar(image, ax=ax, shrink=0.6, format="{x:.0%}",
                 label="share of the from-segment's users")
    return fig


def draw_rf_grid(
    grid: Mapping[tuple[int, int], int],
    segment_map: Mapping[tuple[int, int], str],
    colours: Mapping[str, str | tuple[float, ...]],
    period: date | None,
) -> Figure:
    """The classic grid: recency score on x, frequency score on y, one cell per (r, f) coloured
    by its segment, with thick white borders between segments."""
    fig = Figure(figsize=(9, 8), layout="constrained")
    cells = sorted(set(grid) | set(segment_map))
    if not cells:
        return _no_data(fig, "rfm_segment_map is empty")
    total = sum(grid.values())
    ax = fig.add_subplot()
    for r, f in cells:
        segment = segment_map.get((r, f))
        colour = colours.get(segment, "#ffffff") if segment else "#ffffff"
        ax.add_patch(Rectangle((r - 0.5, f - 0.5), 1, 1, facecolor=colour,
                               edgecolor="white", linewidth=1))
        ink = _text_colour(colour)
        users = grid.get((r, f), 0)
        name = "\n".join(textwrap.wrap(segment or "(unmapped)", 12))
        ax.text(r, f + 0.2, name, ha="center", va="center", fontsize=8.5, color=ink)
        share = f" ({users / total:.0%})" if total else ""
        ax.text(r, f - 0.22, f"{users:,}{share}", ha="center", va="center", fontsize=11,
                fontweight="bold", color=ink)
    for r, f in cells:  # segment borders: right and top neighbours with another segment
        if (r + 1, f) in segment_map and segment_map[(r + 1, f)] != segment_map.get((r, f)):
            ax.plot([r + 0.5, r + 0.5], [f - 0.5, f + 0.5], color="white", linewidth=4)
        if (r, f + 1) in segment_map and segment_map[(r, f + 1)] != segment_map.get((r, f)):
            ax.plot([r - 0.5, r + 0.5], [f + 0.5, f + 0.5], color="white", linewidth=4)
    rs = sorted({r for r, _ in cells})
    fs = sorted({f for _, f in cells})
    ax.set_xlim(rs[0] - 0.5, rs[-1] + 0.5)
    ax.set_ylim(fs[0] - 0.5, fs[-1] + 0.5)
    ax.set_xticks(rs)
    ax.set_yticks(fs)
    ax.set_aspect("equal")
    ax.set_xlabel("recency score (5 = bought most recently)")
    ax.set_ylabel("frequency score (5 = buys most often)")
    ax.spines[:].set_visible(False)
    ax.tick_params(length=0)
    when = period.isoformat() if period else "-"
    ax.set_title(f"R × F grid of the current segments ({when}): users per cell, {total:,} in all")
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


# --- HTML ------------------------------------------------------------------------------------


def _mix_table(data: ReportData) -> str:
    periods = sorted({p for p, _ in data.mix})
    fmt = _period_label(periods)
    segments = ordered_segments(s for _, s in data.mix)
    rows = [
        [p.strftime(fmt), *[data.mix.get((p, s), 0) for s in segments],
         sum(data.mix.get((p, s), 0) for s in segments)]
        for p in periods
    ]
    return html_table(["period", *segments, "all users"], rows)


def _transitions_table(data: ReportData) -> str:
    cols = ordered_segments(t for _, t in data.transitions)
    sources = ordered_segments(f for f, _ in data.transitions)
    rows_keys: list[str | None] = [*sources]
    if any(f is None for f, _ in data.transitions):
        rows_keys.insert(0, None)
    rows = [
        [r or NEW_USERS_LABEL, *[data.transitions.get((r, c), 0) for c in cols],
         sum(data.transitions.get((r, c), 0) for c in cols)]
        for r in rows_keys
    ]
    return html_table(["from \\ to", *cols, "all"], rows)


def _grid_table(data: ReportData) -> str:
    rs = sorted({r for r, _ in data.grid})
    fs = sorted({f for _, f in data.grid}, reverse=True)
    rows = [
        [f"F{f}", *[f"{data.segment_map.get((r, f), '?')}: {data.grid.get((r, f), 0):,}"
                    for r in rs]]
        for f in fs
    ]
    return html_table(["frequency \\ recency", *[f"R{r}" for r in rs]], rows)


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.75em; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 2px 6px; }
th { background: #f3f3f3; } td.num { text-align: right; }
details { margin-top: 0.5em; } .note { color: #555; }
"""


def render_html(data: ReportData, pngs: Mapping[str, bytes], extra_html: str = "") -> str:
    """The self-contained page: PNGs as data URIs, the numbers as tables and as JSON
    (``extra_html``: further sections, e.g. the clusters', before the JSON)."""

    def image(key: str, alt: str) -> str:
        encoded = base64.b64encode(pngs[key]).decode("ascii")
        return f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(alt)}">'

    state = "closed" if data.is_period_closed else "open"
    period = _iso(data.latest_period) or "-"
    snapshot = data.snapshot_at.isoformat(sep=" ") if data.snapshot_at else "-"
    moved_into = _iso(data.transitions_period) or "-"
    payload = json.dumps(data.to_json(), indent=1).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>RFM segments, {html.escape(period)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>RFM segments: latest period {html.escape(period)} ({state}, snapshot at
{html.escape(snapshot)})</h1>
<p class="note">Built from the marts rfm_segment_summary, rfm_segment_transitions and
rfm_segments_current, and the seed rfm_segment_map.</p>

<h2>Segment mix over time</h2>
<p>How the customer base splits into segments in each period: the bars above count the users,
the stacked bars below show each segment's share of them.</p>
{image("segment_mix", "segment mix over time")}
<details open><summary>Users per period and segment (rfm_segment_summary)</summary>
{_mix_table(data)}
</details>

<h2>Transitions into {html.escape(moved_into)}</h2>
<p>Where the users of each segment of the previous period are now (rows: from, columns: to;
colour: share of the row, numbers: users, outlined: stayed; "{NEW_USERS_LABEL}" paid first in this
period).</p>
{image("transitions", "transition matrix of the latest period")}
{_transitions_table(data)}

<h2>R × F grid ({html.escape(period)})</h2>
<p>The current users by recency score (x) and frequency score (y); each cell is coloured by the
segment the seed rfm_segment_map gives it, and counts its users.</p>
{image("rf_grid", "R x F grid of the current users")}
{_grid_table(data)}
{scores_section(data.scores, period)}
{extra_html}
<script type="application/json" id="report-data">
{payload}
</script>
</body>
</html>
"""


# --- entry points ----------------------------------------------------------------------------


def build_report(where: warehouses.Warehouse | postgres.Connection, schema: str,
                 out_dir: Path) -> ReportData:
    """Read the marts of ``schema``, write the three PNGs and ``report.html`` into ``out_dir``
    (created if missing) and return the numbers plotted with the files' paths."""
    warehouse = warehouses.as_warehouse(where)
    marts = _fetch(warehouse, schema)
    segments = ordered_segments(
        [*marts.segment_map.values(), *(s for _, s in marts.mix),
         *(s for pair in marts.transitions for s in pair)]
    )
    colours = segment_colours(segments)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = ReportData(
        latest_period=marts.latest_period,
        snapshot_at=marts.snapshot_at,
        is_period_closed=marts.is_period_closed,
        transitions_period=marts.transitions_period,
        segments=segments,
        segment_map=marts.segment_map,
        mix=marts.mix,
        transitions=marts.transitions,
        grid=marts.grid,
        scores=marts.scores,
        segment_mix_png=out_dir / "segment_mix.png",
        transitions_png=out_dir / "transitions.png",
        rf_grid_png=out_dir / "rf_grid.png",
        html=out_dir / "report.html",
    )
    pngs = {
        "segment_mix": _png(draw_segment_mix(data.mix, segments, colours)),
        "transitions": _png(
            draw_transitions(data.transitions, segments, data.transitions_period)
        ),
        "rf_grid": _png(draw_rf_grid(data.grid, data.segment_map, colours, data.latest_period)),
    }
    data.segment_mix_png.write_bytes(pngs["segment_mix"])
    data.transitions_png.write_bytes(pngs["transitions"])
    data.rf_grid_png.write_bytes(pngs["rf_grid"])
    # the clusters' sections, only once `rfm clusters` has stored a model (the
    # clustering step runs on PostgreSQL)
    from rfm_segmentation.clusters import report_sections  # pandas: only when drawing

    clusters = (
        report_sections.build(warehouse.connection, schema, out_dir)
        if isinstance(warehouse, warehouses.PostgresWarehouse) else None
    )
    extra = clusters.html if clusters else ""
    data.html.write_text(render_html(data, pngs, extra), encoding="utf-8")
    return data


def cmd_report(args: argparse.Namespace, console: Console, root: Path) -> int:
    warehouse = warehouses.resolve(root)
    schema = args.schema or os.environ.get("DBT_SCHEMA") or "analytics"
    out_dir = Path(args.out) if args.out else root / ".local" / "report"
    data = build_report(warehouse, schema, out_dir.resolve())
    console.print(f"report of schema {schema} on {warehouse.describe()}")
    for path in (data.html, data.segment_mix_png, data.transitions_png, data.rf_grid_png):
        console.print(f"  {path}")
    console.print(f"open {data.html.as_uri()} in a browser")
    return 0
