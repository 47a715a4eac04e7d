"""The optional event sources of the demo: ``fact_events`` (tracks) and ``identifies``, shaped
like the tables Segment and RudderStack write, consistent with the payments of the same spec.

Every user of the payments browses anonymously on a first device before their first payment,
then either creates an account (user_id, anonymous_id and e-mail linked) and pays logged in, or
checks out as a guest by e-mail and creates the account later. Every later payment is an
``order_completed`` event of the same user, from one of their devices (one to three). E-mails
arrive in different case and with spaces around them. Then the people the identity graph must
not merge, or must merge:

* a few users open a second account with the e-mail of their first (two user_ids, one person);
* a family e-mail shared by ``FAMILY_SIZE`` users (more than the default limit of 5);
* a few laptops that a second user logs in on (an anonymous_id of two people);
* a shop's kiosk device (``KIOSK_ANONYMOUS_ID``) that hundreds of users log in on, and where a
  few guests check out by e-mail;
* bot traffic with no usable identifier (null, blank or a placeholder such as ``undefined``),
  and a few placeholder e-mails (``test@example.com``) beside real identifiers;
* dirty rows of every other kind of ``EVENT_DIRTY_KINDS``.

Then what the computed traits count (seed ``computed_traits``): products added to the cart from a
device, without logging in, and marketing e-mails clicked (the e-mail alone), each from a random
stream of its own, so that the events above and the identity graph do not depend on them.

A random stream of its own: the payments of a spec do not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

import numpy as np

from rfm_segmentation.demo.payments import DemoSpec, generate_payments, random_stream
from rfm_segmentation.raw import EventRow, IdentifyRow

__all__ = [
    "BOT_EVENTS",
    "EVENT_DIRTY_KINDS",
    "EVENT_NAMES",
    "FAMILY_EMAIL",
    "FAMILY_SIZE",
    "KIOSK_ANONYMOUS_ID",
    "DemoEvents",
    "generate_events",
]

_STREAM_EVENTS: Final = 5

EVENT_NAMES: Final = (
    "page_viewed", "product_viewed", "product_added", "checkout_started", "order_completed",
    "account_created", "logged_in", "email_clicked",
)
"""The known event names (seed ``identity_event_names``)."""

KIOSK_ANONYMOUS_ID: Final = "kiosk-store-0001"
FAMILY_EMAIL: Final = "the.millers@example.org"
FAMILY_SIZE: Final = 6
_KIOSK_SHARE: Final = 0.15  # of the users log in once on the kiosk
_KIOSK_GUESTS: Final = 10  # guest checkouts (e-mail only) on the kiosk
_GUEST_FIRST_SHARE: Final = 0.3
_SECOND_ACCOUNT_SHARE: Final = 0.03
_SHARED_DEVICES: Final = 4  # a user logs in on another's laptop: an ambiguous anonymous_id
_PLACEHOLDER_EMAILS: Final = 5  # identifies rows whose e-mail is test@example.com
BOT_EVENTS: Final = 40
"""Page views with no usable identifier: rejected as ``missing_identifier``."""
_BOT_IDENTIFIERS: Final = (
    (None, None, None), ("", "  ", None), (None, "undefined", None), ("null", None, "  "),
    (None, "00000000-0000-0000-0000-000000000000", "test@example.com"),
)

EVENT_DIRTY_KINDS: Final[tuple[tuple[str, int], ...]] = (
    ("missing_event_id", 3),
    ("missing_occurred_at", 3),
    ("unknown_event_name", 4),
    ("after_as_of", 3),
    ("duplicate_event_id", 4),
)
"""(rejection reason, how many) of the dirty events beside the bot traffic (whose reason is
``missing_identifier``). Each is modelled on a clean event; a duplicate is an exact copy."""
_UNKNOWN_NAMES: Final = ("Order Completed", "debug_ping", "", "  ")


@dataclass(frozen=True)
class DemoEvents:
    events: list[EventRow]
    identifies: list[IdentifyRow]


@dataclass
class _Person:
    index: int
    user_id: str
    email: str
    devices: list[str]
    guest_first: bool
    signup: datetime | None = None  # the account's creation (after the first, guest, order)


@dataclass
class _Builder:
    rng: np.random.Generator
    as_of: datetime
    events: list[EventRow] = field(default_factory=list)
    identifies: list[IdentifyRow] = field(default_factory=list)
    next_id: int = 1

    def event(self, at: datetime, name: str, user_id: str | None, anonymous_id: str | None,
              email: str | None, revenue: Decimal | None = None,
              product_id: str | None = None) -> None:
        if at >= self.as_of:  # the future is the dirty rows' business
            return
        self.events.append((f"e{self.next_id:08d}", at, name, user_id, anonymous_id,
                            email, revenue, product_id))
        self.next_id += 1

    def identify(self, at: datetime, user_id: str | None, anonymous_id: str | None,
                 email: str | None) -> None:
        if at < self.as_of:
            self.identifies.append((at, user_id, anonymous_id, email))

    def as_received(self, email: str) -> str:
        """The e-mail as a form sends it: mostly as is, else in other case or with spaces."""
        variant = int(self.rng.integers(0, 6))
        if variant == 0:
            return email.upper()
        if variant == 1:
            return f"  {email.title()} "
        if variant == 2:
            return f"{email} "
        return email

    def minutes(self, low: float, high: float) -> timedelta:
        return timedelta(seconds=round(float(self.rng.uniform(low, high)) * 60))

    def product(self) -> str:
        return f"sku-{int(self.rng.integers(1, 200)):04d}"


def _people(spec: DemoSpec, user_ids: list[str], rng: np.random.Generator) -> list[_Person]:
    people = []
    for index, user_id in enumerate(user_ids):
        devices = 1 + int(rng.random() < 0.5) + int(rng.random() < 0.2)
        people.append(_Person(
            index, user_id, f"customer{user_id.removeprefix('u')}@example.org",
            [f"anon-{user_id}-{d}" for d in range(devices)],
            guest_first=bool(rng.random() < _GUEST_FIRST_SHARE),
        ))
    # a second account with the first one's e-mail: a later user takes an earlier one's
    for person in people[1:]:
        if rng.random() < _SECOND_ACCOUNT_SHARE:
            person.email = people[int(rng.integers(0, person.index))].email
    return people


def _first_payment(b: _Builder, person: _Person, at: datetime, amount: Decimal,
                   kiosk_guest: bool) -> None:
    device = person.devices[0]
    for _ in range(1 + int(b.rng.integers(0, 3))):
        b.event(at - b.minutes(10, 5 * 24 * 60), "product_viewed", None, device, None,
                product_id=b.product())
    if person.guest_first:
        where = KIOSK_ANONYMOUS_ID if kiosk_guest else device
        b.event(at - b.minutes(1, 5), "checkout_started", None, where, None)
        b.event(at, "order_completed", None, where, b.as_received(person.email), amount,
                b.product())
        signup = at + b.minutes(24 * 60, 30 * 24 * 60)
        person.signup = signup
    else:
        signup = at - b.minutes(1, 30)
        b.event(at, "order_completed", person.user_id, device, None, amount, b.product())
    b.event(signup, "account_created", person.user_id, device, b.as_received(person.email))
    b.identify(signup, person.user_id, device, b.as_received(person.email))
    for other in person.devices[1:]:
        login = at + b.minutes(60, 90 * 24 * 60)
        b.event(login, "logged_in", person.user_id, other, None)
        b.identify(login, person.user_id, other, None)


def _specials(b: _Builder, people: list[_Person], first_paid: dict[str, datetime]) -> None:
    paid = [p for p in people if p.user_id in first_paid]
    picks = b.rng.permutation(len(paid))
    family = [paid[int(i)] for i in picks[:FAMILY_SIZE]]
    for person in family:
        b.identify(first_paid[person.user_id] + timedelta(days=1), person.user_id, None,
                   b.as_received(FAMILY_EMAIL))
    n_kiosk = max(FAMILY_SIZE, round(_KIOSK_SHARE * len(paid)))
    for i in picks[FAMILY_SIZE:FAMILY_SIZE + n_kiosk]:
        person = paid[int(i)]
        b.event(first_paid[person.user_id] + b.minutes(60, 60 * 24 * 60), "logged_in",
                person.user_id, KIOSK_ANONYMOUS_ID, None)
    rest = picks[FAMILY_SIZE + n_kiosk:]
    for owner, guest in zip(rest[:_SHARED_DEVICES], rest[_SHARED_DEVICES:2 * _SHARED_DEVICES],
                            strict=True):
        borrowed = paid[int(owner)].devices[0]
        at = max(first_paid[paid[int(owner)].user_id], first_paid[paid[int(guest)].user_id])
        b.event(at + b.minutes(60, 24 * 60), "logged_in", paid[int(guest)].user_id, borrowed,
                None)
    for i in picks[-_PLACEHOLDER_EMAILS:]:
        person = paid[int(i)]
        b.identify(first_paid[person.user_id] + b.minutes(1, 60), person.user_id,
                   person.devices[0], "test@example.com")


def _bots(b: _Builder, start: datetime) -> None:
    span = (b.as_of - start).total_seconds() / 60
    for k in range(BOT_EVENTS):
        user_id, anonymous_id, email = _BOT_IDENTIFIERS[k % len(_BOT_IDENTIFIERS)]
        b.event(start + b.minutes(0, span), "page_viewed", user_id, anonymous_id, email)


def _dirty(b: _Builder) -> None:
    clean = list(b.events)
    for reason, count in EVENT_DIRTY_KINDS:
        for k in range(count):
            event_id, at, name, user_id, anonymous_id, email, revenue, product = clean[
                int(b.rng.integers(0, len(clean)))]
            if reason == "missing_event_id":
                event_id = None if k % 2 == 0 else "  "
            elif reason == "missing_occurred_at":
                event_id, at = f"e{b.next_id:08d}", None
            elif reason == "unknown_event_name":
                event_id, name = f"e{b.next_id:08d}", _UNKNOWN_NAMES[k % len(_UNKNOWN_NAMES)]
            elif reason == "after_as_of":
                event_id, at = f"e{b.next_id:08d}", b.as_of + b.minutes(0, 30 * 24 * 60)
            b.next_id += 1
            b.events.append((event_id, at, name, user_id, anonymous_id, email, revenue, product))


def _engagement(b: _Builder, people: list[_Person], first_paid: dict[str, datetime],
                rng: np.random.Generator) -> None:
    """Cart additions on a device (anonymous) and e-mail clicks (the e-mail alone) of the
    paying people, between their first payment and as_of."""
    for person in people:
        start = first_paid.get(person.user_id)
        if start is None:
            continue
        span = (b.as_of - start).total_seconds()
        for name, most in (("product_added", 6), ("email_clicked", 5)):
            for _ in range(int(rng.integers(0, most + 1))):
                at = start + timedelta(seconds=round(float(rng.uniform(0, span))))
                if name == "product_added":
                    device = person.devices[int(rng.integers(0, len(person.devices)))]
                    b.event(at, name, None, device, None,
                            product_id=f"sku-{int(rng.integers(1, 200)):04d}")
                else:
                    b.event(at, name, None, None, person.email)


def generate_events(spec: DemoSpec) -> DemoEvents:
    """``fact_events`` and ``identifies`` of the payments of ``spec`` (module docstring).
    Every clean event and identify is dated before ``spec.as_of``."""
    rng = random_stream(spec.seed, _STREAM_EVENTS, 0)
    builder = _Builder(rng, spec.as_of)
    payments = [
        (user_id.strip(), at, amount)
        for payment_id, user_id, at, amount in generate_payments(spec)
        if payment_id and payment_id.strip() and user_id and user_id.strip()
        and at is not None and at < spec.as_of and amount is not None and amount > 0
    ]
    user_ids = sorted({user_id for user_id, _, _ in payments})
    people = {p.user_id: p for p in _people(spec, user_ids, rng)}
    kiosk_guests = 0
    first_paid: dict[str, datetime] = {}
    for user_id, at, amount in payments:
        person = people[user_id]
        if user_id not in first_paid:
            first_paid[user_id] = at
            kiosk_guest = person.guest_first and kiosk_guests < _KIOSK_GUESTS
            kiosk_guests += int(kiosk_guest)
            _first_payment(builder, person, at, amount, kiosk_guest)
        elif person.signup is not None and at < person.signup:  # a guest again
            builder.event(at, "order_completed", None, person.devices[0],
                          builder.as_received(person.email), amount, builder.product())
        else:
            device = person.devices[int(rng.integers(0, len(person.devices)))]
            builder.event(at, "order_completed", user_id, device, None, amount,
                          builder.product())
    _specials(builder, list(people.values()), first_paid)
    if spec.dirty_rows:
        _dirty(builder)  # modelled on clean events only: before the bots
    _bots(builder, min(first_paid.values()))
    _engagement(builder, list(people.values()), first_paid,
                random_stream(spec.seed, _STREAM_EVENTS, 1))
    return DemoEvents(builder.events, builder.identifies)
