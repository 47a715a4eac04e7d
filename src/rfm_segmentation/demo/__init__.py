"""Deterministic demo data (generators only; the warehouses load it): the payments of a
simulated customer base with a few dirty rows of every rejection kind (``payments``), the
calendar, the optional sources dim_users and fact_balances (``enrichment``), and the optional
event sources fact_events and identifies (``events``)."""

from rfm_segmentation.demo.enrichment import (
    AGE_BANDS,
    CHANNELS,
    COUNTRIES,
    generate_balances,
    generate_users,
)
from rfm_segmentation.demo.events import (
    BOT_EVENTS,
    EVENT_DIRTY_KINDS,
    EVENT_NAMES,
    FAMILY_EMAIL,
    FAMILY_SIZE,
    KIOSK_ANONYMOUS_ID,
    DemoEvents,
    generate_events,
)
from rfm_segmentation.demo.payments import (
    ACQUISITION_GROWTH,
    AMOUNT_MEDIAN,
    AMOUNT_PAYMENT_LOG_SD,
    AMOUNT_USER_LOG_SD,
    BEHAVIOUR_GROUPS,
    DIRTY_KINDS,
    LIFETIME_MEAN_MONTHS,
    ONE_TIME_SHARE,
    RATE_MEAN_PER_MONTH,
    RATE_SHAPE,
    DemoSpec,
    generate_calendar,
    generate_payments,
    generate_user_groups,
)

__all__ = [
    "ACQUISITION_GROWTH",
    "AGE_BANDS",
    "AMOUNT_MEDIAN",
    "AMOUNT_PAYMENT_LOG_SD",
    "AMOUNT_USER_LOG_SD",
    "BEHAVIOUR_GROUPS",
    "BOT_EVENTS",
    "CHANNELS",
    "COUNTRIES",
    "DIRTY_KINDS",
    "EVENT_DIRTY_KINDS",
    "EVENT_NAMES",
    "FAMILY_EMAIL",
    "FAMILY_SIZE",
    "KIOSK_ANONYMOUS_ID",
    "LIFETIME_MEAN_MONTHS",
    "ONE_TIME_SHARE",
    "RATE_MEAN_PER_MONTH",
    "RATE_SHAPE",
    "DemoEvents",
    "DemoSpec",
    "generate_balances",
    "generate_calendar",
    "generate_events",
    "generate_payments",
    "generate_user_groups",
    "generate_users",
]
