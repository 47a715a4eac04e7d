"""Lifetime-value prediction from the point-in-time features (`rfm ltv`, docs/ltv.md).

Candidates (naive baselines, BG/NBD + Gamma-Gamma, gradient boosting, a hybrid) are compared out
of time on the warehouse's ``rfm_user_features``; the best is refitted and its predictions are
written to ``ltv_predictions``, a dbt source joined into ``rfm_segments_current``.
"""
