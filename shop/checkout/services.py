"""Checkout: quote a basket from server-side prices and place the order in one transaction.

Whatever price a client sends is never charged: every amount comes from the catalog here. The
unit prices and the total the checkout page showed are read back only to refuse an order
that is dearer now (``price_rises``) or whose total is not the one shown (``total_change``).
A repeated submission (same idempotency key) returns the first order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, make_transient_to_detached

from shop.catalog import stock, stores
from shop.catalog.models import Product, Store, Variant
from shop.customers import addresses, regions
from shop.customers.models import Customer
from shop.customers.phones import normalize_phone
from shop.customers.topics import CustomerTopic
from shop.errors import InvalidDetails, InvalidInput
from shop.extensions import db
from shop.hooks import hooks, offered_prices
from shop.i18n import variant_name
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import after_commit
from shop.members import coupons
from shop.members import points as points_ledger
from shop.members.models import Coupon, MemberTier, PointsKind
from shop.money import format_money
from shop.orders import pickup
from shop.orders.models import (
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    new_token,
)
from shop.orders.topics import OrderTopic
from shop.signals import announce, order_placed, order_placing

log = logging.getLogger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

# The statements every order runs, built once: building one costs about as much CPU as sending
# it. Plain Core where no ORM object is wanted (column defaults still apply to the inserts).
_ORDERS, _CUSTOMERS, _STORES = Order.__table__, Customer.__table__, Store.__table__
_ORDER_ID_BY_KEY = select(_ORDERS.c.id).where(_ORDERS.c.idempotency_key == bindparam("key"))
_PICKUP_STORE_CITY = select(_STORES.c.city).where(
    _STORES.c.id == bindparam("store_id"), _STORES.c.active.is_(True)
)
_SELLABLE_VARIANTS = (
    select(Variant)
    .join(Product)
    .options(contains_eager(Variant.product))
    .where(Variant.id.in_(bindparam("ids", expanding=True)), Product.active.is_(True))
)
_CUSTOMER_BY_PHONE = select(_CUSTOMERS.c.id, _CUSTOMERS.c.name, _CUSTOMERS.c.address).where(
    _CUSTOMERS.c.phone == bindparam("phone")
)
_INSERT_CUSTOMER = insert(_CUSTOMERS).returning(_CUSTOMERS.c.id)
_INSERT_ORDER = insert(_ORDERS).returning(_ORDERS.c.id)
_INSERT_LINE = insert(OrderLine.__table__)


@dataclass
class QuoteLine:
    variant: Variant
    quantity: int
    unit_price: int
    # What set a special unit price (``shop.hooks.price_offers``), if any; its ``label``, when
    # it has one, is shown beside the line.
    offer: object = None

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass
class Quote:
    lines: list[QuoteLine]
    currency: str
    shipping: int = 0
    tier_discount: int = 0
    coupon: Coupon | None = None
    coupon_discount: int = 0
    points: int = 0
    points_value: int = 0
    delivery_fee: int = 0  # what delivery would add (0 when free: coupon, tier or threshold)
    coupon_options: list[coupons.Option] = field(default_factory=list)

    @property
    def subtotal(self) -> int:
        return sum(line.line_total for line in self.lines)

    @property
    def discount(self) -> int:
        return self.tier_discount + self.coupon_discount + self.points_value

    @property
    def total(self) -> int:
        return self.subtotal - self.discount + self.shipping

    @property
    def totals(self) -> dict[str, int]:
        """The total picked up and delivered (what the checkout page shows for each), for the
        discounts priced here."""
        goods = self.subtotal - self.discount
        return {Fulfilment.PICKUP: goods, Fulfilment.DELIVERY: goods + self.delivery_fee}


def sellable_variant_ids(variant_ids: list[int]) -> set[int]:
    """Which of these variants can still be bought (exist, of an active product)."""
    return set(
        db.session.scalars(
            select(Variant.id)
            .join(Product)
            .where(Variant.id.in_(variant_ids), Product.active.is_(True))
        )
    )


def quote(
    items: list[tuple[int, int]],
    fulfilment: str = Fulfilment.PICKUP,
    *,
    customer_id: int | None = None,
    coupon: int | str | None = None,
    points: int = 0,
    store_id: int | None = None,
    attribution: Mapping | None = None,
) -> Quote:
    """Price ``[(variant_id, quantity), ...]`` from the catalog. Raises InvalidInput.

    For a signed-in customer: their tier's discount, then a coupon (``"best"`` picks the one
    that saves most; an id must apply or the reason is raised), then points, each on what the
    previous left; delivery is free by coupon, tier or the shop's threshold.
    """
    if not items:
        raise InvalidInput(_("Your basket is empty."))
    merged: dict[int, int] = {}
    for variant_id, quantity in items:
        merged[variant_id] = merged.get(variant_id, 0) + quantity
    variants = {v.id: v for v in db.session.scalars(_SELLABLE_VARIANTS, {"ids": list(merged)})}
    lines = []
    for variant_id, quantity in merged.items():
        variant = variants.get(variant_id)
        if variant is None:
            raise InvalidInput(_("That product does not exist."))
        if quantity > current_app.config["MAX_LINE_QUANTITY"]:
            raise InvalidInput(
                _("You can buy at most %(n)d at a time.", n=current_app.config["MAX_LINE_QUANTITY"])
            )
        lines.append(QuoteLine(variant, quantity, variant.current_price()))
    _apply_offers(lines, attribution or {})
    result = Quote(lines=lines, currency=current_app.config["SHOP_CURRENCY"])
    free_shipping = result.subtotal >= current_app.config["FREE_SHIPPING_FROM"]
    if customer_id is not None:
        free_shipping = (
            _apply_membership(result, customer_id, coupon, points, store_id) or free_shipping
        )
    elif coupon not in (None, "", "best", "none") or points:
        raise InvalidInput(_("Sign in to use coupons and points."))
    result.delivery_fee = 0 if free_shipping else current_app.config["SHIPPING_FEE"]
    if fulfilment == Fulfilment.DELIVERY:
        result.shipping = result.delivery_fee
    return result


def _apply_offers(lines: list[QuoteLine], attribution: Mapping) -> None:
    """Special prices the plug-ins offer right now (live prices), read at every quote."""
    found = offered_prices([line.variant for line in lines], attribution).prices
    for line in lines:
        if line.variant.id in found:
            line.unit_price, line.offer = found[line.variant.id]


def quote_for_checkout(
    items: list[tuple[int, int]],
    fulfilment: str,
    *,
    customer_id: int | None,
    coupon: int | str | None,
    points: int,
    store_id: int | None,
    attribution: Mapping | None = None,
) -> tuple[Quote, str | None]:
    """The checkout page's prices: as asked; or, when the chosen coupon or points do not apply,
    with the best coupon and no points, and the reason why. Raises InvalidInput when the basket
    itself cannot be priced (an item no longer sold)."""
    shown = fulfilment if fulfilment in ("pickup", "delivery") else "pickup"
    try:
        asked = dict(customer_id=customer_id, coupon=coupon, points=points, store_id=store_id)
        return quote(items, shown, attribution=attribution, **asked), None
    except InvalidInput as exc:
        best = "best" if customer_id else None
        again = dict(customer_id=customer_id, coupon=best, attribution=attribution)
        return quote(items, shown, **again), exc.message


def _apply_membership(
    result: Quote, customer_id: int, coupon, points: int, store_id: int | None
) -> bool:
    """Tier discount, coupon and points for a signed-in customer; True if delivery is free."""
    customer = db.session.get(Customer, customer_id)
    tier = db.session.get(MemberTier, customer.tier_id) if customer and customer.tier_id else None
    free_shipping = False
    if tier is not None:
        result.tier_discount = (result.subtotal * tier.discount_bp * 2 + 10000) // 20000
        if tier.free_shipping_from is not None and result.subtotal >= tier.free_shipping_from:
            free_shipping = True
    remaining = result.subtotal - result.tier_discount
    result.coupon_options = coupons.options(
        customer_id, coupons.product_lines(result.lines), store_id, points
    )
    chosen = None
    if coupon == "best":
        chosen = coupons.best(result.coupon_options)
    elif coupon not in (None, "", "none"):
        chosen = next((o for o in result.coupon_options if str(o.coupon.id) == str(coupon)), None)
        if chosen is None:
            raise InvalidInput(coupons.missing_reason(coupon, customer_id))
        if not chosen.applies:
            raise InvalidInput(chosen.reason)
    if chosen is not None:
        result.coupon = chosen.coupon
        result.coupon_discount = min(chosen.discount, remaining)
        remaining -= result.coupon_discount
        free_shipping = free_shipping or chosen.free_shipping
    if points:
        result.points = points_ledger.check_spend(customer_id, points, remaining)
        result.points_value = min(points_ledger.value_of(result.points), remaining)
    return free_shipping


@dataclass
class CheckoutDetails:
    name: str
    phone: str
    fulfilment: str  # a Fulfilment
    payment_method: str  # a PaymentMethod
    city: str = ""
    address: str = ""
    pickup_store_id: int | None = None
    note: str = ""
    province: str = ""  # with district: a region of ``shop.customers.regions``, when given
    district: str = ""
    attribution: dict = field(default_factory=dict)  # share_code, live_session_id, visitor_id
    customer_id: int | None = None  # signed in (verified phone): coupons and points are theirs
    coupon: int | str | None = None  # a coupon id, "best", or None
    points: int = 0
    # The pick-up stores these details were checked against (id: city, None when not an
    # active store). Shared with copies (``dataclasses.replace``): the checkout view checks a
    # copy before placing, and placing checks the details again without asking twice.
    store_cities: dict = field(default_factory=dict, repr=False, compare=False)
    # The unit prices the checkout page showed, by variant id: a line dearer now (a live or
    # limited-time price ended since) is refused, so nobody pays more than they were shown.
    seen_prices: dict = field(default_factory=dict)
    # The totals the checkout page showed, by fulfilment: an order whose total differs (a
    # quantity changed without the page re-pricing its discounts, a coupon that no longer
    # applies) is refused, so nobody is charged a total they were not shown.
    seen_totals: dict = field(default_factory=dict)


def payment_methods(fulfilment: str) -> list[str]:
    """Stripe when configured; paying at the store (or on delivery, without Stripe) always."""
    stripe_on = bool(current_app.config.get("STRIPE_SECRET_KEY"))
    methods = [PaymentMethod.STRIPE] if stripe_on else []
    if fulfilment == Fulfilment.PICKUP or not stripe_on:
        methods.append(PaymentMethod.STORE)
    return methods


def reservation_period(payment_method: str) -> timedelta:
    """How long an unpaid order holds its stock: short for online payment, longer when the
    customer pays at the store and needs time to get there."""
    key = "STORE_HOLD_MINUTES" if payment_method == PaymentMethod.STORE else "RESERVATION_MINUTES"
    return timedelta(minutes=current_app.config[key])


def _pickup_store_city(details: CheckoutDetails) -> str | None:
    """The city of the active store the details pick up from (None: no such store), read once
    for the details and their copies."""
    store_id = details.pickup_store_id
    if not store_id or not 0 < store_id < 2**31:
        return None
    if store_id not in details.store_cities:
        city = db.session.scalar(_PICKUP_STORE_CITY, {"store_id": store_id})
        details.store_cities[store_id] = city
    return details.store_cities[store_id]


def validate_details(details: CheckoutDetails) -> CheckoutDetails:
    """The details, tidied; raises ``InvalidDetails`` naming every field that is wrong."""
    problems = detail_problems(details)
    if problems:
        raise InvalidDetails(problems)
    return details


def detail_problems(details: CheckoutDetails) -> dict[str, str]:
    """Tidy the details in place and say what is wrong with them, by field (``name``,
    ``phone``, ``province``, ``district``, ``city``, ``address``, ``pickup_store``,
    ``fulfilment``, ``payment_method``); empty when they can be placed."""
    problems: dict[str, str] = {}
    details.name = (details.name or "").strip()
    if not details.name:
        problems["name"] = _("Please enter your name.")
    elif len(details.name) > 120:
        problems["name"] = _("Your name is too long.")
    try:
        details.phone = normalize_phone(details.phone)
    except InvalidInput as exc:
        problems["phone"] = exc.message
    details.note = (details.note or "").strip()[:500]
    details.province = (details.province or "").strip()[:40]
    details.city = (details.city or "").strip()[:80]
    details.district = (details.district or "").strip()[:40]
    details.address = (details.address or "").strip()[:255]
    if details.fulfilment == Fulfilment.DELIVERY:
        if details.province and not regions.is_region(
            details.province, details.city, details.district
        ):
            problems["district"] = _("Please choose the province, city and district.")
        elif not details.city:
            problems["city"] = _("Please enter a delivery city and address.")
        if not details.address:
            problems["address"] = _("Please enter the street address.")
        details.pickup_store_id = None
    elif details.fulfilment == Fulfilment.PICKUP:
        details.province = details.district = ""
        city = _pickup_store_city(details)
        if city is None:
            problems["pickup_store"] = _("Please choose a store to pick up from.")
        elif not details.city:
            details.city = city
    else:
        problems["fulfilment"] = _("Choose delivery or pick-up.")
    if details.fulfilment in (Fulfilment.DELIVERY, Fulfilment.PICKUP) and (
        details.payment_method not in payment_methods(details.fulfilment)
    ):
        problems["payment_method"] = _("That payment method is not available for this order.")
    return problems


def place_order(
    items: list[tuple[int, int]], details: CheckoutDetails, idempotency_key: str
) -> Order:
    """Validate, then create the order and reserve its stock. Does not commit: the checkout
    view's unit of work commits the order with everything it took.

    The same ``idempotency_key`` always yields the same order, also when two submissions race:
    the unique key makes the loser roll back its savepoint (its stock reservation with it) and
    return the winner's order. ``order_placing`` is sent inside the transaction, so what its
    receivers record (the attribution) commits with the order; if one of them fails, the order
    is placed without them and the failure logged (the attribution is then made when the order
    is paid, by the accrual job). The order's expiry is published to the outbox in the same
    transaction (due when its reservation ends); ``order_placed`` is sent after commit.
    """
    if not idempotency_key or not _KEY.match(idempotency_key):
        raise InvalidInput(_("This form has expired. Please reload the page and try again."))
    existing = _order_with_key(idempotency_key)
    if existing is not None:
        return existing
    details = validate_details(details)
    basket = quote(
        items,
        details.fulfilment,
        customer_id=details.customer_id,
        coupon=details.coupon,
        points=details.points,
        store_id=details.pickup_store_id,
        attribution=details.attribution,
    )
    change = price_rises(basket, details.seen_prices) or total_change(
        basket, details.seen_totals.get(details.fulfilment)
    )
    if change:
        raise PriceChanged(change)

    with_receivers, retried = True, False
    while True:
        try:
            with db.session.begin_nested():
                order = _create_order(basket, details, idempotency_key, with_receivers)
            break
        except _ReceiverFailed:
            with_receivers = False
        except IntegrityError:
            # Either the same form won a race (return its order) or another checkout created
            # this customer a moment ago (try once more; the customer now exists).
            existing = _order_with_key(idempotency_key)
            if existing is not None:
                return existing
            if retried:
                raise
            retried = True

    after_commit(announce, order_placed, current_app._get_current_object(), order_id=order.id)
    return order


class PriceChanged(InvalidInput):
    code = "price_changed"


def price_rises(basket: Quote, seen: dict) -> str | None:
    """What costs more now than the checkout page showed (``seen``: unit prices by variant
    id; a live or limited-time price ended, or staff raised a price), as the message to show;
    None when nothing does. Guards the unit prices of the lines the page showed."""
    rises = [
        _(
            "%(name)s now costs %(price)s, up from the %(shown)s shown",
            name=variant_name(line.variant),
            price=format_money(line.unit_price),
            shown=format_money(seen[line.variant.id]),
        )
        for line in basket.lines
        if line.unit_price > seen.get(line.variant.id, line.unit_price)
    ]
    if not rises:
        return None
    return _(
        "%(rises)s. Check the new total and place the order again.",
        rises=_("; ").join(rises),
    )


def total_change(basket: Quote, seen: int | None) -> str | None:
    """The message to show when the order's total is not the ``seen`` one the checkout page
    showed for its fulfilment (None when it is, or when nothing was seen)."""
    if seen is None or basket.total == seen:
        return None
    return _(
        "The total is now %(total)s, not the %(shown)s shown. Check it and place the order again.",
        total=format_money(basket.total),
        shown=format_money(seen),
    )


class _ReceiverFailed(Exception):
    """A receiver of ``order_placing`` raised (logged); the order is placed without them."""


def _order_with_key(idempotency_key: str) -> Order | None:
    order_id = db.session.scalar(_ORDER_ID_BY_KEY, {"key": idempotency_key})
    return None if order_id is None else db.session.get(Order, order_id)


def _customer_id(details: CheckoutDetails) -> tuple[int, bool]:
    """The buyer's customer id, and whether this order creates them (found by phone, else new).

    A known customer keeps the name and address they have; blank ones (a customer who signed
    in by code before ever ordering) are filled in from this order. The check is made on the
    row already read, so a returning customer with both costs no extra statement.
    """
    known = None
    if details.customer_id is not None:
        known = db.session.get(Customer, details.customer_id)
    if known is None:
        known = db.session.execute(_CUSTOMER_BY_PHONE, {"phone": details.phone}).first()
    if known is not None:
        _fill_blanks(known, details)
        return known.id, False
    customer_id = db.session.scalar(
        _INSERT_CUSTOMER,
        {
            "phone": details.phone,
            "name": details.name,
            "city": details.city,
            "address": details.address,
        },
    )
    return customer_id, True


def _fill_blanks(known, details: CheckoutDetails) -> None:
    """Fill a known customer's blank name, or blank address (with its city), from the order."""
    values = {}
    if details.name and not known.name:
        values["name"] = details.name
    if details.address and not known.address:
        values.update(city=details.city or "", address=details.address)
    if values:
        db.session.execute(update(_CUSTOMERS).where(_CUSTOMERS.c.id == known.id).values(**values))
        outbox.publish(CustomerTopic.UPDATED, known.id, ",".join(values), utcnow().isoformat())


def _create_order(
    basket: Quote, details: CheckoutDetails, idempotency_key: str, with_receivers: bool
) -> Order:
    """Insert the customer (if new), the order and its lines, send ``order_placing`` (unless
    ``with_receivers`` is off), take the stock, coupon and points. Does not commit.

    Rows nothing reads back in this request are plain inserts, and so is the order: its object
    is made from the values written.
    """
    customer_id, customer_is_new = _customer_id(details)
    values = _order_values(basket, details, idempotency_key, customer_id)
    order = Order(id=db.session.scalar(_INSERT_ORDER, values), **values)
    make_transient_to_detached(order)  # as if loaded (what it lacks loads on first use)
    db.session.add(order)
    try:
        db.session.execute(_INSERT_LINE, [_line_values(order.id, line) for line in basket.lines])
        if with_receivers:
            _send_placing(order, customer_is_new)
        # Stock, coupon and points last: their rows stay locked until the commit, right after.
        stock.reserve(order.id, [(line.variant.id, line.quantity) for line in basket.lines])
        for claim in hooks().order_claims:
            claim(order, basket.lines)
        if basket.coupon is not None and not coupons.use(basket.coupon.id, order.id, customer_id):
            raise InvalidInput(_("This coupon has already been used."))
        if basket.points:
            points_ledger.post(
                customer_id,
                -basket.points,
                PointsKind.SPEND,
                f"spend:{order.id}",
                order_id=order.id,
                note=order.number,
            )
        if details.customer_id is not None and details.fulfilment == Fulfilment.DELIVERY:
            addresses.remember(customer_id, details)
        reservation = order.expires_at - order.created_at
        owed = [  # one statement for all of them
            # The customer's text, in their language; delayed, so the checkout never waits on
            # the message gateway (without a queue the outbox sweep sends it, within a minute).
            (OrderTopic.PLACED, (order.id, str(get_locale())), timedelta(seconds=1)),
            (OrderTopic.RESERVATION_ENDS, (order.id,), reservation + timedelta(seconds=5)),
        ]
        if customer_is_new:
            owed.append((CustomerTopic.CREATED, (customer_id, order.store_id), None))
        outbox.publish_each(owed)
    except BaseException:
        db.session.expunge(order)  # its row is gone with the savepoint; so must the object be
        raise
    return order


def _order_values(
    basket: Quote, details: CheckoutDetails, idempotency_key: str, customer_id: int
) -> dict:
    attribution = details.attribution or {}
    store_id = stores.order_store_id(details.pickup_store_id, attribution, customer_id)
    now = utcnow()
    return {
        "token": new_token(),
        "status": OrderStatus.AWAITING_PAYMENT,
        "idempotency_key": idempotency_key,
        "customer_id": customer_id,
        "store_id": store_id,
        "fulfilment": details.fulfilment,
        "payment_method": details.payment_method,
        "contact_name": details.name,
        "phone": details.phone,
        "province": details.province,
        "city": details.city,
        "district": details.district,
        "address": details.address,
        "pickup_code": pickup.new_code() if details.fulfilment == Fulfilment.PICKUP else None,
        "note": details.note,
        "currency": basket.currency,
        "subtotal": basket.subtotal,
        "discount": basket.discount,
        "tier_discount": basket.tier_discount,
        "coupon_discount": basket.coupon_discount,
        "coupon_id": basket.coupon.id if basket.coupon else None,
        "points_spent": basket.points,
        "points_value": basket.points_value,
        "shipping": basket.shipping,
        "total": basket.total,
        "share_code": attribution.get("share_code") or None,
        "live_session_id": attribution.get("live_session_id"),
        "visitor_id": attribution.get("visitor_id") or None,
        "created_at": now,
        "expires_at": now + reservation_period(details.payment_method),
    }


def _line_values(order_id: int, line: QuoteLine) -> dict:
    variant = line.variant
    return {
        "order_id": order_id,
        "variant_id": variant.id,
        "product_id": variant.product_id,
        "product_name": variant.product.name,
        "variant_name": variant.name,
        "sku": variant.sku,
        "unit_price": line.unit_price,
        "quantity": line.quantity,
        "line_total": line.line_total,
    }


def _send_placing(order: Order, customer_is_new: bool) -> None:
    """``order_placing``, inside the order's transaction; a receiver's failure is logged and
    raised as ``_ReceiverFailed`` (``place_order`` then places the order without them)."""
    try:
        order_placing.send(
            current_app._get_current_object(), order=order, customer_is_new=customer_is_new
        )
        db.session.flush()  # what the receivers added fails here as theirs, not the order's
    except Exception as error:
        log.exception("a receiver of order_placing failed for order %s", order.id)
        raise _ReceiverFailed from error
