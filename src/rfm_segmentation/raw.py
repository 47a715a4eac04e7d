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
