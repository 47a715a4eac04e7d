"""The out-of-time protocol of `rfm ltv`: pick the candidate that predicted best a window that
has already happened, refit it on the latest data, predict the next horizon for current users.

With h = ``ltv_horizon_periods`` and the snapshot periods of ``rfm_user_features``:

* a period's labels are complete when its h following periods have closed by ``rfm_as_of``;
* the **validation cut-off** c is the latest such period: candidates predict, from the features
  at c, the revenue of (c, c + h], which the labels at c hold;
* supervised candidates train on the **training cut-offs**: the latest ``train_cutoffs``
  labelled periods whose label window ended by c's snapshot (periods <= c - h), so nothing of
  the validation window leaks into training; the probabilistic and naive models use only the
  rows at c (point in time by construction);
* the best candidate by RMSE (ties: higher top-decile share) is refitted on the latest
  ``train_cutoffs`` labelled periods and predicts from the latest snapshot (the current users)
  over the h periods after its ``snapshot_at``.

Fallbacks: no labelled period (history shorter than h + 1 closed periods) -> no validation is
possible, BG/NBD + Gamma-Gamma is used (it needs no labels) and the report says so; no
training cut-off before c -> the supervised candidates are skipped, the others are compared;
a model that cannot be fitted is reported and skipped; no rows at all -> InsufficientDataError.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from rfm_segmentation.ltv.btyd import FitError
from rfm_segmentation.ltv.candidates import (
    Boosting,
    BoostingWithTraits,
    Candidate,
    Context,
    Prediction,
    add_btyd_inputs,
    all_candidates,
    trait_columns,
)
from rfm_segmentation.ltv.metrics import Metrics, evaluate

FALLBACK_WITHOUT_LABELS = "bgnbd_gamma_gamma"
LAST_RESORT = "historical_rate"


class InsufficientDataError(RuntimeError):
    """There is nothing to train on or to predict for."""


@dataclass(frozen=True)
class Period:
    snapshot_period: date
    snapshot_at: datetime
    is_period_closed: bool
    is_label_complete: bool
    label_window_end_at: datetime
    users: int


@dataclass(frozen=True)
class Plan:
    horizon_periods: int
    latest: Period
    validation: Period | None
    validation_train: tuple[Period, ...]
    final_train: tuple[Period, ...]

    @property
    def periods_needed(self) -> list[date]:
        needed = {self.latest.snapshot_period}
        needed.update(p.snapshot_period for p in self.validation_train + self.final_train)
        if self.validation is not None:
            needed.add(self.validation.snapshot_period)
        return sorted(needed)


@dataclass(frozen=True)
class CandidateResult:
    name: str
    kind: str
    description: str
    metrics: Metrics | None
    note: str = ""


@dataclass
class Outcome:
    plan: Plan
    seed: int
    chosen: str
    reason: str
    results: list[CandidateResult]
    predictions: pd.DataFrame
    messages: list[str] = field(default_factory=list)


def make_plan(periods: Sequence[Period], horizon_periods: int, train_cutoffs: int = 6) -> Plan:
    if not periods:
        raise InsufficientDataError(
            "rfm_user_features is empty: no clean payment yet, or the project was not built "
            "(run `make demo` or `dbt build` first)"
        )
    if train_cutoffs < 1:
        raise ValueError("train_cutoffs must be >= 1")
    ordered = sorted(periods, key=lambda p: p.snapshot_period)
    labelled = [p for p in ordered if p.is_label_complete]
    validation = labelled[-1] if labelled else None
    validation_train: tuple[Period, ...] = ()
    if validation is not None:
        before = [p for p in labelled if p.label_window_end_at <= validation.snapshot_at]
        validation_train = tuple(before[-train_cutoffs:])
    return Plan(horizon_periods, ordered[-1], validation, validation_train,
                tuple(labelled[-train_cutoffs:]))


def _rows(features: pd.DataFrame, periods: Sequence[Period]) -> pd.DataFrame:
    wanted = [p.snapshot_period for p in periods]
    rows = features[features["snapshot_period"].isin(wanted)]
    return rows.sort_values(["snapshot_period", "user_id"]).reset_index(drop=True)


def _choose(results: list[CandidateResult]) -> CandidateResult | None:
    scored = [r for r in results if r.metrics is not None and math.isfinite(r.metrics.rmse)]
    if not scored:
        return None

    def key(result: CandidateResult) -> tuple[float, float, str]:
        metrics = result.metrics
        assert metrics is not None
        share = metrics.top_decile_share if math.isfinite(metrics.top_decile_share) else 0.0
        return (round(metrics.rmse, 9), -share, result.name)

    return min(scored, key=key)


def run(features: pd.DataFrame, plan: Plan, *, seed: int = 0,
        candidates: Sequence[Candidate] | None = None,
        progress: Callable[[str], None] = lambda _: None) -> Outcome:
    """Compare the candidates out of time, refit the chosen one, predict for current users.

    ``features``: rows of rfm_user_features for (at least) ``plan.periods_needed``."""
    candidates = (list(candidates) if candidates is not None
                  else all_candidates(trait_columns(features)))
    by_name = {c.name: c for c in candidates}
    features = add_btyd_inputs(features)
    context = Context(horizon_periods=plan.horizon_periods, seed=seed)
    messages: list[str] = []
    results: list[CandidateResult] = []

    if plan.validation is None:
        messages.append(
            f"history too short for out-of-time validation: no period has its next "
            f"{plan.horizon_periods} periods closed yet (needs at least "
            f"{plan.horizon_periods + 1} closed periods); using {FALLBACK_WITHOUT_LABELS}, "
            "which needs no labels"
        )
        for c in candidates:
            results.append(CandidateResult(c.name, c.kind, c.description, None,
                                           "not validated: no labelled period"))
        chosen_name, reason = FALLBACK_WITHOUT_LABELS, "fallback: no labelled period"
    else:
        target = _rows(features, [plan.validation])
        train = _rows(features, plan.validation_train)
        actual = target["next_revenue"].to_numpy(float)
        progress(
            f"validation: features at {plan.validation.snapshot_period} "
            f"({len(target):,} users), revenue of the next {plan.horizon_periods} periods; "
            f"supervised models trained on {len(plan.validation_train)} earlier cut-off(s) "
            f"({len(train):,} rows)"
        )
        if not plan.validation_train:
            messages.append(
                "no labelled cut-off ends before the validation window: the supervised "
                "candidates are skipped (need at least 2 x horizon + 1 closed periods)"
            )
        for c in candidates:
            if c.needs_labels and train.empty:
                results.append(CandidateResult(c.name, c.kind, c.description, None,
                                               "skipped: no labelled training cut-off"))
                continue
            try:
                predicted = c.predict(train, target, context)
            except FitError as error:
                results.append(CandidateResult(c.name, c.kind, c.description, None,
                                               f"failed: {error}"))
                progress(f"  {c.name}: failed ({error})")
                continue
            metrics = evaluate(predicted.revenue, actual, target["user_id"])
            results.append(CandidateResult(c.name, c.kind, c.description, metrics))
            progress(
                f"  {c.name:<20} RMSE {metrics.rmse:10.2f}  MAE {metrics.mae:9.2f}  "
                f"top-10% share {metrics.top_decile_share:6.1%}  "
                f"pred/actual {metrics.predicted_to_actual:5.2f}"
            )
        effect = traits_effect(results)
        if effect:
            messages.append(effect)
        best = _choose(results)
        if best is None:
            chosen_name, reason = LAST_RESORT, "fallback: no candidate could be scored"
        else:
            chosen_name, reason = best.name, "lowest out-of-time RMSE"

    latest = _rows(features, [plan.latest])
    final_train = _rows(features, plan.final_train)
    progress(
        f"refit {chosen_name} and predict from {plan.latest.snapshot_period} "
        f"(snapshot at {plan.latest.snapshot_at}, {len(latest):,} users)"
    )
    try:
        prediction = by_name[chosen_name].predict(final_train, latest, context)
    except FitError as error:
        messages.append(f"{chosen_name} could not be fitted ({error}); using {LAST_RESORT}")
        chosen_name, reason = LAST_RESORT, f"fallback: {error}"
        prediction = by_name[LAST_RESORT].predict(final_train, latest, context)
    return Outcome(plan, seed, chosen_name, reason, results,
                   _predictions(latest, prediction, plan, chosen_name), messages)


def traits_effect(results: Sequence[CandidateResult]) -> str | None:
    """Whether the computed traits helped out of time: the boosting model with them against the
    same model without them, on the same validation rows."""
    scored = {r.name: r.metrics for r in results if r.metrics is not None}
    without, with_traits = scored.get(Boosting.name), scored.get(BoostingWithTraits.name)
    if without is None or with_traits is None:
        return None
    change = (with_traits.rmse - without.rmse) / without.rmse if without.rmse else math.nan
    verdict = "helped" if with_traits.rmse < without.rmse else "did not help"
    return (
        f"the computed traits {verdict} out of time: {BoostingWithTraits.name} RMSE "
        f"{with_traits.rmse:,.2f} against {without.rmse:,.2f} for {Boosting.name} without "
        f"them ({change:+.1%})"
    )


def _predictions(latest: pd.DataFrame, prediction: Prediction, plan: Plan, model: str
                 ) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": latest["user_id"].astype(str).to_numpy(),
        "predicted_revenue": np.round(prediction.revenue.astype(float), 6),
        "predicted_payments": np.round(prediction.payments.astype(float), 6),
        "horizon_periods": plan.horizon_periods,
        "as_of": plan.latest.snapshot_at,
        "model": model,
    })
