"""The candidate models of `rfm ltv`, one interface: given labelled training rows (features and
labels of earlier cut-offs; ignored by the models that need none) and the rows of one snapshot,
predict each user's revenue and payments over the next ``horizon`` periods.

Every frame holds rows of ``rfm_user_features`` (point-in-time features of one or several
snapshot periods) plus the columns :func:`add_btyd_inputs` derives from them, and the computed
traits of ``rfm_user_traits`` as ``trait_<name>`` columns when the project has event sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from rfm_segmentation.ltv.btyd import BetaGeo, GammaGamma

Array = npt.NDArray[np.float64]

WEEK_SECONDS = 7 * 86_400.0

FEATURES: tuple[str, ...] = (
    "recency_days", "tenure_days", "tenure_periods", "frequency", "monetary",
    "lifetime_payments", "lifetime_revenue",
    "payments_last_1", "revenue_last_1", "payments_last_3", "revenue_last_3",
    "payments_last_6", "revenue_last_6", "payments_last_horizon", "revenue_last_horizon",
    "avg_order_value", "mean_days_between_payments",
    "recency_score", "frequency_score", "monetary_score",
)
"""Inputs of the boosting models. The segment is left out: it is a function of the R and F
scores, which are in."""

BTYD_FEATURES: tuple[str, ...] = ("btyd_purchases", "btyd_p_alive", "btyd_revenue")

TRAIT_PREFIX = "trait_"
"""The computed traits' columns in a frame (ltv/warehouse.py: ``load_traits``)."""


def trait_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    return tuple(column for column in frame.columns if column.startswith(TRAIT_PREFIX))


def add_btyd_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """BG/NBD inputs in weeks from the features: x = repeat payments, t_x = first -> last
    payment, T = first payment -> snapshot_at; the horizon t = snapshot_at -> the end of the
    label window (h periods later)."""
    out = frame.copy()

    def weeks(later: str, earlier: str) -> pd.Series:
        return (out[later] - out[earlier]).dt.total_seconds() / WEEK_SECONDS

    out["bg_x"] = out["lifetime_payments"].astype(float) - 1.0
    out["bg_t_x"] = weeks("last_payment_at", "first_payment_at")
    out["bg_T"] = weeks("snapshot_at", "first_payment_at")
    out["horizon_weeks"] = weeks("label_window_end_at", "snapshot_at")
    return out


@dataclass(frozen=True)
class Prediction:
    revenue: Array
    payments: Array


@dataclass
class Context:
    """What candidates share in one run: the seed and the probabilistic fits per snapshot (a
    BG/NBD + Gamma-Gamma pair is fitted once per snapshot period, from that snapshot's rows
    only, and reused by every candidate that needs it)."""

    horizon_periods: int
    seed: int = 0
    btyd_fits: dict[date, tuple[BetaGeo, GammaGamma]] = field(default_factory=dict)

    def btyd(self, snapshot: pd.DataFrame) -> pd.DataFrame:
        """BG/NBD expected payments, P(alive) and expected revenue over each row's horizon,
        for the rows of one or several snapshot periods (each fitted on its own rows)."""
        parts = []
        for period, rows in snapshot.groupby("snapshot_period", sort=True):
            key = pd.Timestamp(period).date()
            if key not in self.btyd_fits:
                self.btyd_fits[key] = (
                    BetaGeo.fit(rows["bg_x"], rows["bg_t_x"], rows["bg_T"]),
                    GammaGamma.fit(rows["lifetime_payments"], rows["avg_order_value"]),
                )
            bg, gg = self.btyd_fits[key]
            x, t_x, big_t = rows["bg_x"], rows["bg_t_x"], rows["bg_T"]
            purchases = bg.expected_purchases(x, t_x, big_t, rows["horizon_weeks"])
            spend = gg.expected_spend(rows["lifetime_payments"], rows["avg_order_value"])
            parts.append(pd.DataFrame({
                "btyd_purchases": purchases,
                "btyd_p_alive": bg.probability_alive(x, t_x, big_t),
                "btyd_revenue": purchases * spend,
            }, index=rows.index))
        return pd.concat(parts).loc[snapshot.index]


class Candidate(Protocol):
    name: str
    kind: str
    needs_labels: bool
    description: str

    def predict(self, train: pd.DataFrame, target: pd.DataFrame, context: Context
                ) -> Prediction: ...


@dataclass(frozen=True)
class Zero:
    name: str = "zero"
    kind: str = "baseline"
    needs_labels: bool = False
    description: str = "predicts no revenue for anyone"

    def predict(self, train: pd.DataFrame, target: pd.DataFrame, context: Context
                ) -> Prediction:
        zeros = np.zeros(len(target))
        return Prediction(zeros, zeros.copy())


@dataclass(frozen=True)
class LastHorizon:
    name: str = "last_horizon"
    kind: str = "baseline"
    needs_labels: bool = False
    description: str = "the last h periods' revenue, repeated"

    def predict(self, train: pd.DataFrame, target: pd.DataFrame, context: Context
                ) -> Prediction:
        return Prediction(target["revenue_last_horizon"].to_numpy(float),
                          target["payments_last_horizon"].to_numpy(float))


@dataclass(frozen=True)
class HistoricalRate:
    name: str = "historical_rate"
    kind: str = "baseline"
    needs_labels: bool = False
    description: str = "lifetime revenue per period since the first payment x h"

    def predict(self, train: pd.DataFrame, target: pd.DataFrame, context: Context
                ) -> Prediction:
        per_period = context.horizon_periods / target["tenure_periods"].to_numpy(float)
        return Prediction(target["lifetime_revenue"].to_numpy(float) * per_period,
                          target["lifetime_payments"].to_numpy(float) * per_period)


@dataclass(frozen=True)
class BetaGeoGammaGamma:
    name: str = "bgnbd_gamma_gamma"
    kind: str = "probabilistic"
    needs_labels: bool = False
    description: str = "BG/NBD expected payments x Gamma-Gamma expected spend (no labels)"

    def predict(self, train: pd.DataFrame, target: pd.DataFrame, context: Context
                ) -> Prediction:
        btyd = context.btyd(target)
        return Prediction(btyd["btyd_revenue"].to_numpy(float),
                          btyd["btyd_purchases"].to_numpy(float))


def _boosting(seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        loss="poisson", learning_rate=0.05, max_iter=300, max_leaf_nodes=15,
        min_samples_leaf=40, l2_regularization=1.0, early_stopping=False, random_state=seed,
    )


def _fit_predict(columns: list[str], train: pd.DataFrame, target: pd.DataFrame, seed: int
                 ) -> Prediction:
    x_train = train[columns].to_numpy(float)
    x_target = target[columns].to_numpy(float)
    predictions = []
    # One OpenMP thread: on a small shared machine the default (all cores) spins and is ~10x
    # slower on a few thousand rows; one thread also keeps the result bit-for-bit reproducible.
    with threadpool_limits(1):
        for label in ("next_revenue", "next_payments"):
            model = _boosting(seed).fit(x_train, train[label].to_numpy(float))
            predictions.append(np.maximum(model.predict(x_target), 0.0))
    return Prediction(predictions[0], predictions[1])


@dataclass(frozen=True)
class Boosting:
    name: str = "gbm_poisson"
    kind: str = "boosting"
    needs_labels: bool = True
    description: str = "gradient boosting (Poisson loss) on the point-in-time features"
    traits: tuple[str, ...] = ()  # computed-trait columns added to the features

    def predict(self, train: pd.DataFrame, target: pd.DataFrame, context: Context
                ) -> Prediction:
        return _fit_predict([*FEATURES, *self.traits], train, target, context.seed)


@dataclass(frozen=True)
class BoostingWithTraits(Boosting):
    """The boosting model with the computed traits added: offered only when the frame has
    them, so that the report says whether they helped out of time. A user without a profile
    has missing traits, which the model handles as such (no imputation)."""

    name: str = "gbm_poisson_traits"
    description: str = "gradient boosting (Poisson loss) on the features and the computed traits"


@dataclass(frozen=True)
class Hybrid:
    name: str = "hybrid_gbm_bgnbd"
    kind: str = "hybrid"
    needs_labels: bool = True
    description: str = "gradient boosting with the BG/NBD + Gamma-Gamma outputs as features"

    def predict(self, train: pd.DataFrame, target: pd.DataFrame, context: Context
                ) -> Prediction:
        train = pd.concat([train, context.btyd(train)], axis=1)
        target = pd.concat([target, context.btyd(target)], axis=1)
        return _fit_predict([*FEATURES, *BTYD_FEATURES], train, target, context.seed)


def all_candidates(traits: tuple[str, ...] = ()) -> list[Candidate]:
    """In the order of the report: baselines first. ``traits``: the frame's trait columns
    (none: no candidate with traits)."""
    with_traits: list[Candidate] = [BoostingWithTraits(traits=traits)] if traits else []
    return [Zero(), LastHorizon(), HistoricalRate(), BetaGeoGammaGamma(), Boosting(),
            *with_traits, Hybrid()]
