"""The probabilistic models against the papers' published CDNOW estimates, the metrics and the
cut-off plan (no database).

tests/fixtures/cdnow_customers_summary.csv: the CDNOW calibration summary (2,357 customers of
the 1/10 sample, 39-week calibration: x, t_x, T in weeks, zbar = mean repeat-purchase value)
used by Fader, Hardie & Lee (2005); copied from the MIT-licensed `lifetimes` 0.11.3 wheel
(lifetimes/datasets/cdnow_customers_summary_with_transactions.csv), which distributes it from
Bruce Hardie's website. See tests/fixtures/README.md.
"""

from __future__ import annotations

import csv
import math
import os
import platform
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from rfm_segmentation.ltv.btyd import BetaGeo, FitError, GammaGamma
from rfm_segmentation.ltv.metrics import evaluate
from rfm_segmentation.ltv.pipeline import InsufficientDataError, Period, make_plan

from simulate import SimulationSpec, simulate_payments

CDNOW = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow_customers_summary.csv"

# Fits every numeric path of `rfm ltv` (BG/NBD, Gamma-Gamma, the boosting models) and prints
# the bits of the results: run in this process and in fresh ones whose BLAS differs.
FIT_EVERY_MODEL = f"""
import csv, hashlib
import numpy as np, pandas as pd
from rfm_segmentation.ltv.btyd import BetaGeo, GammaGamma
from rfm_segmentation.ltv.candidates import _fit_predict
rows = list(csv.DictReader(open({str(CDNOW)!r}, newline="")))
x, t_x, big_t, zbar = (np.array([float(r[k]) for r in rows]) for k in ("x", "t_x", "T", "zbar"))
bg = BetaGeo.fit(x, t_x, big_t)
gg = GammaGamma.fit(x[x > 0], zbar[x > 0])
rng = np.random.default_rng(7)
frame = pd.DataFrame(rng.gamma(2.0, 3.0, size=(3000, 4)), columns=list("abcd"))
frame["next_revenue"] = rng.poisson(frame["a"] + frame["b"]) * 10.0
frame["next_payments"] = rng.poisson(frame["c"]).astype(float)
boosted = _fit_predict(list("abcd"), frame.iloc[:2000], frame.iloc[2000:], seed=0)
digest = hashlib.sha256()
for part in (bg.expected_purchases(x, t_x, big_t, np.full_like(x, 39.0)),
             gg.expected_spend(x, zbar), boosted.revenue, boosted.payments):
    digest.update(np.ascontiguousarray(part, dtype=np.float64).tobytes())
print(bg, gg, digest.hexdigest())
"""


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    with CDNOW.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {k: np.array([float(r[k]) for r in rows]) for k in ("x", "t_x", "T", "zbar")}


def test_bgnbd_reproduces_the_published_cdnow_estimates(cdnow: dict[str, np.ndarray]) -> None:
    model = BetaGeo.fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    # Fader, Hardie & Lee (2005), section 5: r = .243, α = 4.414, a = .793, b = 2.426, LL -9582.4
    assert model.r == pytest.approx(0.243, abs=5e-4)
    assert model.alpha == pytest.approx(4.414, abs=5e-3)
    assert model.a == pytest.approx(0.793, abs=5e-4)
    assert model.b == pytest.approx(2.426, abs=5e-3)
    params = np.array([model.r, model.alpha, model.a, model.b])
    ll = BetaGeo.log_likelihood(params, cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert ll == pytest.approx(-9582.4, abs=0.1)
    # the paper's worked example: x = 2, t_x = 30.43, T = 38.86 -> 1.226 purchases in 39 weeks
    expected = model.expected_purchases(np.array([2.0]), np.array([30.43]), np.array([38.86]),
                                        np.array([39.0]))
    assert expected[0] == pytest.approx(1.226, abs=1e-3)


def test_gamma_gamma_reproduces_the_published_cdnow_estimates(
    cdnow: dict[str, np.ndarray],
) -> None:
    repeat = cdnow["x"] > 0
    model = GammaGamma.fit(cdnow["x"][repeat], cdnow["zbar"][repeat])
    # Fader, Hardie & Lee (2005, "RFM and CLV"), 946 repeat buyers: p = 6.25, q = 3.74, γ = 15.44
    assert model.p == pytest.approx(6.25, abs=0.01)
    assert model.q == pytest.approx(3.74, abs=0.01)
    assert model.gamma == pytest.approx(15.44, abs=0.02)
    # posterior mean spend shrinks a customer's mean towards the population mean p γ / (q - 1)
    population = model.p * model.gamma / (model.q - 1)
    spend = model.expected_spend(np.array([1.0, 10.0, 0.0]), np.array([100.0, 100.0, 0.0]))
    assert population < spend[0] < spend[1] < 100.0
    assert spend[2] == pytest.approx(population)


def test_bgnbd_is_finite_for_heavy_buyers_and_recovers_a_simulated_process() -> None:
    spec = SimulationSpec(n_users=3000, start=date(2020, 1, 1), as_of=datetime(2022, 1, 1),
                          r=0.8, alpha=4.0, a=1.2, b=6.0, seed=3)
    by_user: dict[str, list[datetime]] = {}
    for _, user, when, _ in simulate_payments(spec):
        by_user.setdefault(user, []).append(when)
    week = 7 * 86_400.0
    x = np.array([len(t) - 1 for t in by_user.values()], dtype=float)
    t_x = np.array([(max(t) - min(t)).total_seconds() / week for t in by_user.values()])
    big_t = np.array([(spec.as_of - min(t)).total_seconds() / week for t in by_user.values()])
    model = BetaGeo.fit(x, t_x, big_t)
    assert model.r / model.alpha == pytest.approx(spec.r / spec.alpha, rel=0.15)
    assert model.a / (model.a + model.b) == pytest.approx(spec.a / (spec.a + spec.b), rel=0.3)
    heavy = model.expected_purchases(np.array([2000.0, 5.0]), np.array([100.0, 100.0]),
                                     np.array([100.0, 100.0]), np.array([13.0, 13.0]))
    assert np.all(np.isfinite(heavy)) and heavy[0] > 200 * heavy[1] / 5


def test_models_refuse_data_that_cannot_identify_them() -> None:
    with pytest.raises(FitError, match="bought twice"):
        BetaGeo.fit(np.zeros(5), np.zeros(5), np.ones(5))
    with pytest.raises(FitError):
        GammaGamma.fit(np.array([1.0]), np.array([10.0]))


def test_metrics_on_a_hand_computed_case() -> None:
    users = [f"u{i:02d}" for i in range(20)]
    actual = np.zeros(20)
    actual[[0, 1]] = [100.0, 50.0]
    predicted = np.zeros(20)
    predicted[[0, 5]] = [90.0, 10.0]  # top 10% = 2 users: u00 (100) and u05 (0)
    m = evaluate(predicted, actual, users)
    assert m.top_decile_share == pytest.approx(100 / 150)
    assert m.predicted_to_actual == pytest.approx(100 / 150)
    assert m.mae == pytest.approx((10 + 50 + 10) / 20)
    assert m.rmse == pytest.approx(math.sqrt((100 + 2500 + 100) / 20))
    # a constant prediction ranks by user id: deterministic
    assert evaluate(np.zeros(20), actual, users).top_decile_share == pytest.approx(1.0)


def _periods(n: int, labelled: int) -> list[Period]:
    out = []
    for i in range(n):
        start = date(2024, 1 + i, 1)
        snap = datetime(2024, 2 + i, 1) if i < 11 else datetime(2025, 1, 1)
        end = datetime(2024 + (4 + i) // 12, (4 + i) % 12 + 1, 1)
        out.append(Period(start, snap, True, i < labelled, end, 10))
    return out


def test_plan_cutoffs_and_fallbacks() -> None:
    with pytest.raises(InsufficientDataError, match="empty"):
        make_plan([], 3)
    plan = make_plan(_periods(10, labelled=7), 3, train_cutoffs=2)
    assert plan.validation is not None
    assert plan.validation.snapshot_period == date(2024, 7, 1)
    # training windows must end by the validation snapshot: periods <= 2024-04
    assert [p.snapshot_period for p in plan.validation_train] == [date(2024, 3, 1),
                                                                   date(2024, 4, 1)]
    assert [p.snapshot_period for p in plan.final_train] == [date(2024, 6, 1), date(2024, 7, 1)]
    assert plan.latest.snapshot_period == date(2024, 10, 1)
    short = make_plan(_periods(3, labelled=0), 3)
    assert short.validation is None and short.final_train == ()
    no_train = make_plan(_periods(5, labelled=2), 3)
    assert no_train.validation is not None and no_train.validation_train == ()


def _blas_variants() -> dict[str, dict[str, str]]:
    """Environments a scheduler or a shell may give `rfm ltv`: as this one, without the
    OpenBLAS kernel override, with the BLAS and OpenMP forced to 2 threads, and (on x86-64,
    where every CPU runs it) with OpenBLAS' oldest kernel forced."""
    here = dict(os.environ)
    bare = {k: v for k, v in here.items() if not k.startswith("OPENBLAS_")}
    variants = {
        "inherited": here,
        "no_openblas_settings": bare,
        "two_threads": {**here, "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"},
    }
    if platform.machine() in ("x86_64", "AMD64"):
        variants["oldest_kernel"] = {**bare, "OPENBLAS_CORETYPE": "Prescott"}
    return variants


def test_fits_are_identical_whatever_the_blas_of_the_process() -> None:
    """The same data and seed give the same bits in any process: the optimisers call no BLAS
    and the boosting runs on one thread (a failure here reaches the stored predicted_ltv)."""
    results = {}
    for name, env in _blas_variants().items():
        done = subprocess.run([sys.executable, "-c", FIT_EVERY_MODEL], env=env,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        results[name] = done.stdout.strip()
    assert len(set(results.values())) == 1, results
