"""Statistical segments beside the R x F rules (issue 8): k-means on the RFM features, the model
stored in the warehouse, 'what drives it', and the ``rfm clusters`` verb. See docs/clusters.md.

The submodules import scikit-learn and pandas; this package imports nothing heavy, so that every
``rfm`` command does not pay for them (``register`` only adds the verb)."""

from rfm_segmentation.clusters.verb import register

__all__ = ["register"]
