"""The report's score distribution: the users of ``rfm_segments_current`` per metric and score,
every score 1-5 included (0 when empty), so that the effect of a scoring method (docs/scores.md)
is visible: an empty score, or one holding most users, is a tie the method could not split.
Also the HTML table helper the report's sections share."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

METRICS: tuple[str, ...] = ("recency", "frequency", "monetary")
SCORES: tuple[int, ...] = (1, 2, 3, 4, 5)


def html_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A small HTML table; integers right-aligned with thousands separators."""

    def cell(value: object, tag: str) -> str:
        text = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value
        cls = ' class="num"' if isinstance(value, int) else ""
        return f"<{tag}{cls}>{html.escape(str(text))}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "\n".join("<tr>" + "".join(cell(v, "td") for v in row) + "</tr>" for row in rows)
    return f'<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'


def fetch_scores(cursor: Any, current_table: str) -> dict[tuple[str, int], int]:
    """Users per (metric, score) of ``current_table`` (quoted), every pair of METRICS x SCORES."""
    cursor.execute(
        " union all ".join(
            f"select '{metric}', {metric}_score, count(*) from {current_table}"
            f" group by {metric}_score"
            for metric in METRICS
        )
    )
    scores = {(metric, score): 0 for metric in METRICS for score in SCORES}
    scores.update({(str(m), int(s)): int(n) for m, s, n in cursor.fetchall()})
    return scores


def scores_json(scores: Mapping[tuple[str, int], int]) -> list[dict[str, Any]]:
    return [
        {"metric": metric, "score": score, "users": scores[(metric, score)]}
        for metric in METRICS for score in SCORES if (metric, score) in scores
    ]


def scores_section(scores: Mapping[tuple[str, int], int], period: str) -> str:
    """The HTML section: one row per metric, its users per score and their share."""
    rows = []
    for metric in METRICS:
        users = [scores.get((metric, score), 0) for score in SCORES]
        total = sum(users)
        shares = [f"{n:,} ({n / total:.0%})" if total else "0" for n in users]
        rows.append([metric, *shares, total])
    table = html_table(["metric", *[f"score {s}" for s in SCORES], "all users"], rows)
    return f"""
<h2>Score distribution ({html.escape(period)})</h2>
<p>The current users per score of each metric. Under a rank method a score near 20% is the
norm; an empty score or one holding most users is a tie the method cannot split (many one-time
buyers, many payments on one day): the <code>thresholds</code> method scores such a metric by
business bins instead (docs/scores.md).</p>
{table}
"""
