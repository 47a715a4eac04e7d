"""Statistical segments beside the R x F rules (issue 8): k-means on the RFM features, the model
stored in the warehouse, 'what drives it', and the ``rfm clusters`` verb. See docs/clusters.md."""

from rfm_segmentation.clusters.command import register, train
from rfm_segmentation.clusters.model import FEATURES, ClusterModel, FitResult, fit

__all__ = ["FEATURES", "ClusterModel", "FitResult", "fit", "register", "train"]
