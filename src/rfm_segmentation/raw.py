"""The rows of the raw tables, as the demo generates them and the warehouses load them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

PaymentRow = tuple[str | None, str | None, datetime | None, Decimal | None]
"""(payment_id, user_id, payment_date, payment_amount) of ``fact_payments``, exactly as stored:
any of them may be missing (NULL) or, for the ids, blank."""
CalendarRow = tuple[date, date]
"""(date_day, date_month) of ``dim_calendar``."""
UserRow = tuple[str, str, str, date, str]
"""(user_id, country, acquisition_channel, signup_date, age_band) of ``dim_users``."""
BalanceRow = tuple[str, date, Decimal]
"""(user_id, start_date, aum) of ``fact_balances``."""
EventRow = tuple[
    str | None, datetime | None, str | None, str | None, str | None, str | None,
    Decimal | None, str | None,
]
"""(event_id, occurred_at, event_name, user_id, anonymous_id, email, revenue, product_id) of the
optional ``fact_events`` (a tracks table as Segment or RudderStack write it), as stored: any of
them may be missing or blank."""
IdentifyRow = tuple[datetime | None, str | None, str | None, str | None]
"""(occurred_at, user_id, anonymous_id, email) of the optional ``identifies``."""
