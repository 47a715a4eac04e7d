"""The visual report on demo data: the files are there and self-contained, and every number it
plots equals what the marts hold, recomputed here with SQL."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rfm_segmentation import cli, report
from rfm_segmentation import demo as demo_data

from conftest import ROOT, SCHEMA, Warehouse

SPEC = demo_data.DemoSpec(n_users=400, seed=3)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def report_json(html: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', html, re.DOTALL
    )
    assert match, "the HTML embeds no report-data JSON"
    return json.loads(match.group(1))


def numbers_from_json(payload: dict[str, Any]) -> dict[str, Any]:
    """The JSON read back into the shapes of ReportData."""
    return {
        "latest_period": date.fromisoformat(payload["latest_period"]),
        "snapshot_at": datetime.fromisoformat(payload["snapshot_at"]),
        "is_period_closed": payload["is_period_closed"],
        "transitions_period": date.fromisoformat(payload["transitions_period"]),
        "mix": {(date.fromisoformat(r["period"]), r["segment"]): r["users"]
                for r in payload["mix"]},
        "transitions": {(r["from_segment"], r["to_segment"]): r["users"]
                        for r in payload["transitions"]},
        "grid": {(r["recency_score"], r["frequency_score"]): r["users"] for r in payload["grid"]},
        "segment_map": {(r["recency_score"], r["frequency_score"]): r["segment"]
                        for r in payload["grid"]},
        "scores": {(r["metric"], r["score"]): r["users"] for r in payload["scores"]},
    }


def marts_numbers(warehouse: Warehouse) -> dict[str, Any]:
    """What the report must show, straight from the marts (and the history, to tie them back)."""
    current = warehouse.query(
        f"select max(snapshot_period) as period, max(snapshot_at) as snapshot_at,"
        f" bool_and(is_period_closed) as closed, count(*) as users"
        f" from {SCHEMA}.rfm_segments_current"
    )[0]
    mix = {
        (r["snapshot_period"], r["rfm_segment"]): r["users"]
        for r in warehouse.query(
            f"select snapshot_period, rfm_segment, users from {SCHEMA}.rfm_segment_summary"
        )
    }
    latest_transitions = warehouse.query(
        f"select max(snapshot_period) as p from {SCHEMA}.rfm_segment_transitions"
    )[0]["p"]
    transitions = {
        (r["from_segment"], r["to_segment"]): r["users"]
        for r in warehouse.query(
            f"select from_segment, to_segment, users from {SCHEMA}.rfm_segment_transitions"
            " where snapshot_period = %s",
            [latest_transitions],
        )
    }
    grid = {
        (r["recency_score"], r["frequency_score"]): r["users"]
        for r in warehouse.query(
            f"select recency_score, frequency_score, count(*) as users"
            f" from {SCHEMA}.rfm_segments_current group by 1, 2"
        )
    }
    segment_map = {
        (r["recency_score"], r["frequency_score"]): r["rfm_segment"]
        for r in warehouse.query(f"select * from {SCHEMA}.rfm_segment_map")
    }
    scores = {
        (metric, r["score"]): r["users"]
        for metric in ("recency", "frequency", "monetary")
        for r in warehouse.query(
            f"select {metric}_score as score, count(*) as users"
            f" from {SCHEMA}.rfm_segments_current group by 1"
        )
    }
    history_periods = [
        r["snapshot_period"]
        for r in warehouse.query(
            f"select distinct snapshot_period from {SCHEMA}.rfm_segments_history order by 1"
        )
    ]
    return {
        "current": current, "mix": mix, "transitions_period": latest_transitions,
        "transitions": transitions, "grid": grid, "segment_map": segment_map,
        "history_periods": history_periods, "scores": scores,
    }


def assert_valid_png(path: Path) -> None:
    content = path.read_bytes()
    assert content.startswith(PNG_SIGNATURE), path
    assert 20_000 < len(content) < 2_000_000, (path, len(content))
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        width, height = image.size
        assert image.format == "PNG"
    assert 800 <= width <= 2500 and 600 <= height <= 2000, (path, image.size)


@pytest.fixture
def built(warehouse: Warehouse) -> Warehouse:
    calendar = demo_data.generate_calendar(SPEC.start, SPEC.as_of.date())
    warehouse.load(demo_data.generate_payments(SPEC), calendar)
    warehouse.dbt("build", vars={"rfm_as_of": SPEC.as_of.isoformat(sep=" ")}).assert_ok()
    return warehouse


def test_report_shows_exactly_the_marts(built: Warehouse, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    data = report.build_report(built.connection, SCHEMA, tmp_path / "report")

    # The files: three valid PNGs and one self-contained HTML page embedding exactly them.
    for path in (data.segment_mix_png, data.transitions_png, data.rf_grid_png):
        assert path.parent == tmp_path / "report"
        assert_valid_png(path)
    assert {p.name for p in (tmp_path / "report").iterdir()} == {
        "segment_mix.png", "transitions.png", "rf_grid.png", "report.html"
    }
    page = data.html.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "<link" not in page and "@import" not in page
    images = re.findall(r'<img src="([^"]*)"', page)
    assert images == [
        "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii")
        for p in (data.segment_mix_png, data.transitions_png, data.rf_grid_png)
    ]
    assert f"latest period {data.latest_period.isoformat()}" in page
    assert str(data.snapshot_at) in page

    # The JSON in the page is the ReportData.
    from_page = numbers_from_json(report_json(page))
    assert from_page == {
        "latest_period": data.latest_period, "snapshot_at": data.snapshot_at,
        "is_period_closed": data.is_period_closed, "transitions_period": data.transitions_period,
        "mix": data.mix, "transitions": data.transitions, "grid": data.grid,
        "segment_map": data.segment_map, "scores": data.scores,
    }

    # The point: the numbers plotted are the marts'.
    marts = marts_numbers(built)
    current = marts["current"]
    assert (data.latest_period, data.snapshot_at, data.is_period_closed) == (
        current["period"], current["snapshot_at"], current["closed"]
    )
    assert data.snapshot_at == SPEC.as_of and data.is_period_closed is False

    assert data.mix == marts["mix"]
    assert sorted({p for p, _ in data.mix}) == marts["history_periods"]
    assert len(marts["history_periods"]) >= 20

    assert data.transitions_period == marts["transitions_period"] == data.latest_period
    assert data.transitions == marts["transitions"]
    assert sum(data.transitions.values()) == current["users"]
    assert any(f is None for f, _ in data.transitions), "the demo has new users every period"

    assert data.segment_map == marts["segment_map"] and len(data.segment_map) == 25
    assert set(data.grid) == set(data.segment_map)
    assert {k: n for k, n in data.grid.items() if n} == marts["grid"]
    assert sum(data.grid.values()) == current["users"] > 0
    per_segment: Counter[str] = Counter()
    for cell, users in data.grid.items():
        per_segment[data.segment_map[cell]] += users
    latest_mix = {s: n for (p, s), n in data.mix.items() if p == data.latest_period}
    assert {s: n for s, n in per_segment.items() if n} == latest_mix

    # The score distribution: every metric x score 1-5, the empty ones as 0, and in the page.
    assert set(data.scores) == {(m, s) for m in ("recency", "frequency", "monetary")
                                for s in range(1, 6)}
    assert {k: n for k, n in data.scores.items() if n} == marts["scores"]
    for metric in ("recency", "frequency", "monetary"):
        assert sum(n for (m, _), n in data.scores.items() if m == metric) == current["users"]
    assert f"Score distribution ({data.latest_period.isoformat()})" in page

    # The CLI verb builds the same report (resolving the connection from PG*).
    for key, value in built.connection.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DBT_SCHEMA", raising=False)
    monkeypatch.chdir(ROOT)
    assert cli.main(["report", "--out", str(tmp_path / "cli")]) == 0
    cli_page = (tmp_path / "cli" / "report.html").read_text(encoding="utf-8")
    assert numbers_from_json(report_json(cli_page)) == from_page
