"""A local CRM with the batch contract of HubSpot's CRM API, for the demo and the tests of
`rfm sync`: `rfm crm serve`, or :func:`running` on a thread."""

from rfm_segmentation.crm.app import Crm, Faults, create_app
from rfm_segmentation.crm.server import RunningCrm, running, serve
from rfm_segmentation.crm.store import Store

__all__ = ["Crm", "Faults", "RunningCrm", "Store", "create_app", "running", "serve"]
