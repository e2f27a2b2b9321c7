"""Live prices and flash units: what a live order pays and the units it holds.

Plugged into checkout and the product page through ``shop.hooks`` (``price_offers`` with its
``price_states`` entry, ``order_claims``), so the shop never imports this module:

- ``offers``: at every quote, the live price of each basket variant on the shelf of the
  session the buyer came from, read from the shelf now (never a copy), and only while the
  session is live plus the checkout grace (= the live reservation), and within the shelf
  item's window. Whatever the client sends is not read. The shop applies a live price only
  where it is below the variant's own price (``shop.hooks.offer_wins``). The room and its buy
  buttons ask ``live_price_state`` (to come, open, over, beaten), which answers alike and also
  shows a price still to come. The product page shows the same
  prices to the session's viewers (``price_state``: its page is kept per session), kept no
  longer than until they change by time.
- ``claim``: inside the order's transaction, the units the order takes of the session's stock
  cap and of the buyer's per-customer limit, each by a conditional ``UPDATE`` whose row count
  is checked. Concurrent buyers queue on the shelf row and each re-checks the cap after the
  one before commits, so a cap of N sells exactly N. A refusal raises, and the whole order
  rolls back: nothing is written.
- ``release``: an order still unpaid when its live reservation ends gives its units back.
- ``settle_paid``: a payment for units that were released is matched with units again when
  they are still there; if they were sold to someone else, the order is refunded and the
  customer told.

Services do not commit, except ``settle_paid`` (an outbox handler), whose refund commits.
"""

from __future__ import annotations

import enum
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import exists, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from live import services
from live.models import BuyerTally, LiveClaim, LiveSession, ShelfItem
from live.services import LiveTopic
from shop.errors import InvalidInput, OutOfStock
from shop.extensions import db
from shop.hooks import Offered, offer_wins
from shop.i18n import localized, variant_name
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.orders.models import Order, OrderStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveOffer:
    """The live price of a basket line: which shelf item of which session set it, how many
    units the session's cap still allowed when it was offered (None: no cap), and how many
    one customer may buy at it (None: no limit)."""

    session_id: int
    shelf_item_id: int
    units_left: int | None = field(default=None, compare=False)
    limit: int | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """What checkout shows beside the line, and the product page beside the price."""
        return _("Live price")

    @property
    def note(self) -> str:
        """Said with the label: the per-customer limit, before checkout has to refuse it."""
        return _("Limit %(n)s per customer", n=self.limit) if self.limit else ""


class WindowClosed(InvalidInput):
    code = "live_window_closed"


class OverLimit(InvalidInput):
    code = "live_over_limit"


def session_id_of(attribution: Mapping) -> int | None:
    value = attribution.get("live_session_id") if attribution else None
    return value if isinstance(value, int) and 0 < value < 2**31 else None


def price_state(attribution: Mapping) -> str:
    """The page key of a visitor's live prices (``shop.hooks.price_state``): the session they
    came from, whose shelf decides them."""
    session_id = session_id_of(attribution)
    return "" if session_id is None else f"live{session_id}"


def window(item: ShelfItem, until: datetime | None, now: datetime, grace: timedelta) -> LivePrice:
    """Where a shelf item's live price stands by time alone (never ``BEATEN``): over once the
    session's ``until`` (``services.live_price_until``) or the item's end plus the grace has
    passed; to come while the session has not gone live or the item's window has not opened."""
    if (until is not None and now > until) or (
        item.ends_at is not None and now > item.ends_at + grace
    ):
        return LivePrice.OVER
    if until is None or (item.starts_at is not None and now < item.starts_at):
        return LivePrice.TO_COME
    return LivePrice.OPEN


def shelf_for(session_id: int, product_ids) -> list[ShelfItem]:
    return db.session.scalars(
        select(ShelfItem).where(
            ShelfItem.session_id == session_id, ShelfItem.product_id.in_(list(product_ids))
        )
    ).all()


def match(items: list[ShelfItem], variant) -> ShelfItem | None:
    """The shelf item for a variant: the one naming it, else the one for its whole product."""
    named = [i for i in items if i.variant_id == variant.id]
    whole = [i for i in items if i.variant_id is None and i.product_id == variant.product_id]
    return (named or whole or [None])[0]


def offers(variants: list, attribution: Mapping, now: datetime | None = None) -> Offered:
    """The live price of each of ``variants`` on the shelf of the session the buyer came from,
    while its live price holds, and when that next changes by time alone: a shelf item's window
    opening or ending, or the session's grace running out (the ``price_offers`` hook, read by
    checkout's quote and the product page)."""
    session_id = session_id_of(attribution)
    if session_id is None or not variants:
        return Offered({})
    session = db.session.get(LiveSession, session_id)
    if session is None:
        return Offered({})
    now = now or utcnow()
    grace_minutes = services.settings().reservation_minutes
    until = services.live_price_until(session, grace_minutes)
    if until is None or now > until:
        return Offered({})
    grace = timedelta(minutes=grace_minutes)
    items = shelf_for(session_id, {v.product_id for v in variants})
    found = {}
    for variant in variants:
        item = match(items, variant)
        if item is not None and window(item, until, now, grace) == LivePrice.OPEN:
            offer = LiveOffer(session_id, item.id, item.units_left, item.per_customer_limit)
            found[variant.id] = (item.live_price, offer)
    edges = [edge for item in items for edge in _window_edges(item, grace) if edge > now]
    return Offered(found, min([until, *edges]))


def _window_edges(item: ShelfItem, grace: timedelta) -> list[datetime]:
    """When a shelf item's live price starts and stops holding (its end plus the grace)."""
    return [
        *([item.starts_at] if item.starts_at is not None else []),
        *([item.ends_at + grace] if item.ends_at is not None else []),
    ]


class LivePrice(enum.StrEnum):
    """Where a shelf item's live price stands for a variant (``live_price_state``)."""

    TO_COME = "to_come"  # the session not on air yet, or the item's window not open yet
    OPEN = "open"  # what the variant sells at now
    OVER = "over"  # the session's grace, or the item's window plus the grace, has run out
    BEATEN = "beaten"  # the variant's own price is lower (``shop.hooks.offer_wins``)

    @property
    def applies(self) -> bool:
        """Whether the live price is the one shown and its window and cap apply: open, or
        still to come (the room shows it ahead). Else the variant sells at its own price."""
        return self in (LivePrice.TO_COME, LivePrice.OPEN)


def variant_bought(item: ShelfItem, asked: int | None = None):
    """The variant the room's buy button buys: the shelf item's own; for a whole product, the
    one ``asked`` for, else its first in stock, else its first."""
    if item.variant is not None:
        return item.variant
    variants = item.product.variants
    chosen = next((v for v in variants if v.id == asked), None) if asked else None
    return chosen or next((v for v in variants if v.stock > 0), None) or next(iter(variants), None)


def live_price_state(
    item: ShelfItem, variant=None, now: datetime | None = None, grace_minutes: int | None = None
) -> LivePrice:
    """The one answer to "is this sold at its live price?" for the room, its buy button and
    its units (``variant``: by default the one the buy button buys); checkout's quote reaches
    the same through ``offers`` and ``shop.hooks.offered_prices``."""
    now = now or utcnow()
    if grace_minutes is None:
        grace_minutes = services.settings().reservation_minutes
    variant = variant or variant_bought(item)
    if variant is not None and not offer_wins(item.live_price, variant, now):
        return LivePrice.BEATEN
    until = services.live_price_until(item.session, grace_minutes)
    return window(item, until, now, timedelta(minutes=grace_minutes))


def check_buyable(
    session: LiveSession, item: ShelfItem, variant=None, now: datetime | None = None
) -> None:
    """Raise the reason a shelf item cannot be bought from the room now (for ``variant``: by
    default the one its buy button buys); nothing is changed. Where the live price is over or
    beaten, the variant sells at its own price and nothing here stands in the way."""
    if item.session_id != session.id:
        raise InvalidInput(_("That product is not on this session's shelf."))
    state = live_price_state(item, variant, now)
    if state == LivePrice.TO_COME:
        if session.started_at is None:
            raise WindowClosed(_("This live session has not started yet."))
        raise WindowClosed(_("The live price of this product has not started yet."))
    if state == LivePrice.OPEN and item.units_left == 0:
        raise OutOfStock(_("Sold out."))


def claim(order: Order, lines: list) -> None:
    """Take the units of every live-priced line (the ``order_claims`` hook), inside the
    order's transaction; raises ``OutOfStock`` / ``OverLimit`` (the order then rolls back).

    Shelf rows are taken in id order, so two orders never wait on each other in a cycle.
    """
    wanted: dict[int, int] = defaultdict(int)
    prices: dict[int, int] = {}
    for line in lines:
        if isinstance(line.offer, LiveOffer):
            wanted[line.offer.shelf_item_id] += line.quantity
            prices[line.offer.shelf_item_id] = line.unit_price
    if not wanted:
        return
    session_id = None
    for item_id in sorted(wanted):
        item = db.session.get(ShelfItem, item_id)
        _take_units(item, wanted[item_id])
        _take_allowance(item, order.customer_id, wanted[item_id])
        db.session.add(
            LiveClaim(
                order_id=order.id,
                shelf_item_id=item_id,
                customer_id=order.customer_id,
                quantity=wanted[item_id],
                unit_price=prices[item_id],
            )
        )
        session_id = item.session_id
        outbox.publish(LiveTopic.UNITS, session_id, item_id, f"take:{order.id}")
    minutes = services.settings().reservation_minutes
    outbox.publish(
        LiveTopic.RESERVATION_ENDS, order.id, delay=timedelta(minutes=minutes, seconds=5)
    )


def _cap_allows(quantity: int):
    return or_(ShelfItem.stock_cap.is_(None), ShelfItem.sold + quantity <= ShelfItem.stock_cap)


def _take_units(item: ShelfItem, quantity: int) -> None:
    done = db.session.execute(
        update(ShelfItem)
        .where(ShelfItem.id == item.id, _cap_allows(quantity))
        .values(sold=ShelfItem.sold + quantity)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        left = db.session.scalar(
            select(ShelfItem.stock_cap - ShelfItem.sold).where(ShelfItem.id == item.id)
        )
        if not left or left <= 0:
            raise OutOfStock(
                _("%(product)s is sold out in this live session.", product=_named(item))
            )
        raise OutOfStock(
            _(
                "Only %(n)d of %(product)s are left in this live session.",
                n=left,
                product=_named(item),
            )
        )


def _named(item: ShelfItem) -> str:
    """What a refusal calls a shelf item, in the reader's language (its variant, if one)."""
    return variant_name(item.variant) if item.variant else localized(item.product)


def _limit_allows(item: ShelfItem, quantity: int):
    if item.per_customer_limit is None:
        return literal(True)
    return BuyerTally.units + quantity <= item.per_customer_limit


def _add_to_tally(item: ShelfItem, customer_id: int, quantity: int) -> bool:
    return (
        db.session.execute(
            update(BuyerTally)
            .where(
                BuyerTally.shelf_item_id == item.id,
                BuyerTally.customer_id == customer_id,
                _limit_allows(item, quantity),
            )
            .values(units=BuyerTally.units + quantity)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def _take_allowance(item: ShelfItem, customer_id: int, quantity: int) -> None:
    """Count the units against the buyer's per-customer limit: a conditional update of their
    tally, or its first row (a concurrent first purchase of the same buyer loses the insert
    and tries the conditional update again)."""
    limit = item.per_customer_limit
    if _add_to_tally(item, customer_id, quantity):
        return
    has_row = db.session.scalar(
        select(BuyerTally.id).where(
            BuyerTally.shelf_item_id == item.id, BuyerTally.customer_id == customer_id
        )
    )
    if has_row is None and (limit is None or quantity <= limit):
        try:
            with db.session.begin_nested():
                db.session.add(
                    BuyerTally(shelf_item_id=item.id, customer_id=customer_id, units=quantity)
                )
            return
        except IntegrityError:
            if _add_to_tally(item, customer_id, quantity):
                return
    raise OverLimit(
        _(
            "You can buy at most %(n)d of %(product)s in this live session.",
            n=limit or 0,
            product=_named(item),
        )
    )


def _give_back(claim: LiveClaim) -> None:
    db.session.execute(
        update(ShelfItem)
        .where(ShelfItem.id == claim.shelf_item_id)
        .values(sold=ShelfItem.sold - claim.quantity)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(BuyerTally)
        .where(
            BuyerTally.shelf_item_id == claim.shelf_item_id,
            BuyerTally.customer_id == claim.customer_id,
        )
        .values(units=BuyerTally.units - claim.quantity)
        .execution_options(synchronize_session=False)
    )


def release(order_id: int, now: datetime | None = None, *, unpaid_only: bool = True) -> int:
    """Give back the units an unpaid order holds; returns how many. Safe to run twice.

    The order row is locked first, so a payment being recorded at the same moment either
    commits before (and the units stay) or waits and finds them released (``settle_paid``
    then takes them again, or refunds). Does not commit.
    """
    now = now or utcnow()
    status = db.session.scalar(select(Order.status).where(Order.id == order_id).with_for_update())
    if status is None or (unpaid_only and status not in _UNPAID):
        return 0
    claims = db.session.scalars(
        select(LiveClaim)
        .where(LiveClaim.order_id == order_id, LiveClaim.released_at.is_(None))
        .order_by(LiveClaim.shelf_item_id)
    ).all()
    released = 0
    for item_claim in claims:
        done = db.session.execute(
            update(LiveClaim)
            .where(LiveClaim.id == item_claim.id, LiveClaim.released_at.is_(None))
            .values(released_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if done:
            _give_back(item_claim)
            released += item_claim.quantity
            session_id = db.session.scalar(
                select(ShelfItem.session_id).where(ShelfItem.id == item_claim.shelf_item_id)
            )
            outbox.publish(
                LiveTopic.UNITS, session_id, item_claim.shelf_item_id, f"release:{item_claim.id}"
            )
    return released


_UNPAID = (OrderStatus.AWAITING_PAYMENT, OrderStatus.CANCELLED)


def units_kept_until(order_id: int) -> datetime | None:
    """Until when an unpaid order keeps the live units it holds (None: it holds none now)."""
    placed = db.session.scalar(
        select(func.min(LiveClaim.created_at)).where(
            LiveClaim.order_id == order_id, LiveClaim.released_at.is_(None)
        )
    )
    if placed is None:
        return None
    return placed + timedelta(minutes=services.settings().reservation_minutes)


def release_due(now: datetime | None = None) -> int:
    """Every unpaid order's units whose live reservation has ended (the sweep behind the
    timers); returns how many orders gave units back. Each order in its own transaction."""
    from shop.infra.unit_of_work import unit_of_work

    now = now or utcnow()
    cutoff = now - timedelta(minutes=services.settings().reservation_minutes)
    due = db.session.scalars(
        select(LiveClaim.order_id)
        .join(Order, Order.id == LiveClaim.order_id)
        .where(
            LiveClaim.released_at.is_(None),
            LiveClaim.created_at <= cutoff,
            Order.status.in_(_UNPAID),
        )
        .distinct()
    ).all()
    db.session.rollback()
    count = 0
    for order_id in due:
        with unit_of_work():
            count += bool(release(order_id, now))
    return count


def _retake(claim: LiveClaim) -> bool:
    """Take a released claim's units again, if the cap and the buyer's limit still allow."""
    item = db.session.get(ShelfItem, claim.shelf_item_id)
    try:
        with db.session.begin_nested():
            _take_units(item, claim.quantity)
            _take_allowance(item, claim.customer_id, claim.quantity)
            done = db.session.execute(
                update(LiveClaim)
                .where(LiveClaim.id == claim.id, LiveClaim.released_at.is_not(None))
                .values(released_at=None)
                .execution_options(synchronize_session=False)
            ).rowcount
            if done != 1:
                raise OutOfStock("claimed meanwhile")
        return True
    except (OutOfStock, OverLimit):
        return False


def settle_paid(order_id: int) -> str:
    """A live order was paid (the ``order.paid`` handler): keep its units, take released ones
    again when they are still there, or refund the order and tell the customer when they were
    sold to someone else. Returns what happened. Safe to run twice: the refund has a key of
    its own, and the message goes out only with the refund that this call made."""
    from shop.customers.sms import sender
    from shop.infra.unit_of_work import unit_of_work
    from shop.orders import services as orders
    from shop.orders.models import Refund

    if not db.session.scalar(
        select(exists().where(LiveClaim.order_id == order_id, LiveClaim.released_at.is_not(None)))
    ):
        return "kept"  # every paid order passes here: most hold no released units
    db.session.rollback()
    with unit_of_work():
        db.session.scalar(select(Order.id).where(Order.id == order_id).with_for_update())
        released = db.session.scalars(
            select(LiveClaim)
            .where(LiveClaim.order_id == order_id, LiveClaim.released_at.is_not(None))
            .order_by(LiveClaim.shelf_item_id)
        ).all()
        if not released:
            return "kept"
        if all(_retake(c) for c in released):
            return "taken-again"
    key = f"live-late-payment-{order_id}"
    if db.session.scalar(select(Refund.id).where(Refund.idempotency_key == key)):
        return "refunded"
    order = db.session.get(Order, order_id)
    with unit_of_work():
        release(order_id, unpaid_only=False)  # whatever was taken again goes back too
    orders.refund(
        order_id,
        {line.id: line.quantity - line.refunded_quantity for line in order.lines},
        staff=None,
        idempotency_key=key,
        restock=True,
        reason="live units sold out before the payment arrived",
    )
    sender().send(
        order.phone,
        _(
            "Sorry: the live units of order %(n)s were sold out before your payment arrived. "
            "The full amount has been refunded.",
            n=order.number,
        ),
    )
    return "refunded"
