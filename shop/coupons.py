"""Coupons: claim (race-free against the total and the per-customer limit), evaluate against a
basket with a plain reason when one does not apply, use once, give back when an order expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import audit
from .errors import InvalidInput
from .extensions import db
from .member_models import Coupon, CouponTemplate
from .models import Order, OrderStatus, Product, utcnow

PAID_OR_LATER = (
    OrderStatus.PAID,
    OrderStatus.FULFILLED,
    OrderStatus.PICKED_UP,
    OrderStatus.COMPLETED,
    OrderStatus.REFUNDED,
)


def _has_paid_order(customer_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(Order.id)
            .where(Order.customer_id == customer_id, Order.status.in_(PAID_OR_LATER))
            .limit(1)
        )
    )


def issue(
    template_id: int,
    customer_id: int,
    *,
    source: str = "claim",
    share_code: str | None = None,
    staff=None,
    now: datetime | None = None,
) -> Coupon:
    """Give a customer a coupon of a template. Raises InvalidInput with the reason if not.

    The template's remaining quantity is taken by a conditional update, and the coupon's
    (template, customer, seq) is unique, so 50 simultaneous claims of a 10-coupon template
    make exactly 10 coupons and one customer cannot pass their limit by double-clicking.
    """
    now = now or utcnow()
    template = db.session.get(CouponTemplate, template_id)
    if template is None or not template.active:
        raise InvalidInput(_("This coupon is not available."))
    if source == "claim" and not template.claimable:
        raise InvalidInput(_("This coupon cannot be claimed."))
    if template.valid_until and template.valid_until <= now:
        raise InvalidInput(_("This coupon has expired."))
    if template.new_customers_only and _has_paid_order(customer_id):
        raise InvalidInput(_("This coupon is for new customers only."))
    held = db.session.scalar(
        select(func.count(Coupon.id)).where(
            Coupon.template_id == template.id, Coupon.customer_id == customer_id
        )
    )
    if held >= template.per_customer_limit:
        raise InvalidInput(_("You already have this coupon."))
    taken = db.session.execute(
        update(CouponTemplate)
        .where(
            CouponTemplate.id == template.id,
            or_(
                CouponTemplate.total_quantity.is_(None),
                CouponTemplate.claimed_count < CouponTemplate.total_quantity,
            ),
        )
        .values(claimed_count=CouponTemplate.claimed_count + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        db.session.rollback()
        raise InvalidInput(_("Sorry, all of these coupons have been claimed."))
    if template.valid_days:
        expires = now + timedelta(days=template.valid_days)
        if template.valid_until:
            expires = min(expires, template.valid_until)
    else:
        expires = template.valid_until
    coupon = Coupon(
        template_id=template.id,
        customer_id=customer_id,
        seq=held + 1,
        source=source,
        share_code=share_code,
        claimed_at=now,
        expires_at=expires,
    )
    db.session.add(coupon)
    if staff is not None:
        audit.record(
            staff,
            "coupon.grant",
            coupon,
            object_type="Coupon",
            after={"template": template.id, "customer": customer_id},
        )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise InvalidInput(_("You already have this coupon.")) from None
    return coupon


@dataclass
class Option:
    coupon: Coupon
    discount: int  # what it takes off the subtotal (free shipping: 0 here)
    free_shipping: bool
    reason: str | None  # why it does not apply, or None

    @property
    def applies(self) -> bool:
        return self.reason is None


def _eligible_subtotal(template: CouponTemplate, lines, store_id: int | None) -> int:
    """Lines are (product, unit_price, quantity)."""
    ids = set(template.scope_ids or [])
    if template.scope == "all":
        return sum(price * qty for _p, price, qty in lines)
    if template.scope == "stores":
        return sum(price * qty for _p, price, qty in lines) if store_id in ids else 0
    if template.scope == "products":
        return sum(price * qty for product, price, qty in lines if product.id in ids)
    if template.scope == "categories":
        return sum(price * qty for product, price, qty in lines if product.category_id in ids)
    return 0


def evaluate(
    coupon: Coupon,
    customer_id: int | None,
    lines,
    store_id: int | None,
    points: int = 0,
    now: datetime | None = None,
) -> Option:
    """What a coupon takes off this basket, or in plain words why it does not apply."""
    now = now or utcnow()
    template = coupon.template

    def no(reason: str) -> Option:
        return Option(coupon, 0, False, reason)

    if coupon.customer_id != customer_id:
        return no(_("This coupon belongs to someone else."))
    if coupon.used_order_id is not None:
        return no(_("This coupon has already been used."))
    if not template.active:
        return no(_("This coupon is no longer available."))
    if template.valid_from and template.valid_from > now:
        return no(_("This coupon is valid from %(date)s.", date=template.valid_from.date()))
    if coupon.expires_at and coupon.expires_at <= now:
        return no(_("This coupon has expired."))
    if points and not template.combinable_with_points:
        return no(_("This coupon cannot be combined with points."))
    eligible = _eligible_subtotal(template, lines, store_id)
    if eligible <= 0:
        return no(_("None of the items in this order are covered by this coupon."))
    if eligible < template.threshold:
        return no(
            _(
                "Spend at least %(amount)s on eligible items to use this coupon.",
                amount=_money(template.threshold),
            )
        )
    if template.kind == "free_shipping":
        return Option(coupon, 0, True, None)
    if template.kind == "percent":
        off = (eligible * template.value * 2 + 10000) // 20000
        if template.cap is not None:
            off = min(off, template.cap)
    else:  # fixed, threshold
        off = template.value
    return Option(coupon, min(off, eligible), False, None)


def _money(amount: int) -> str:
    from .templating import money

    return money(amount)


def wallet(customer_id: int) -> list[Coupon]:
    """The customer's unused coupons, soonest to expire first."""
    return list(
        db.session.scalars(
            select(Coupon)
            .where(Coupon.customer_id == customer_id, Coupon.used_order_id.is_(None))
            .order_by(Coupon.expires_at.is_(None), Coupon.expires_at, Coupon.id)
        )
    )


def options(customer_id: int, lines, store_id: int | None, points: int = 0) -> list[Option]:
    return [evaluate(c, customer_id, lines, store_id, points) for c in wallet(customer_id)]


def best(found: list[Option]) -> Option | None:
    usable = [o for o in found if o.applies]
    return max(usable, key=lambda o: (o.discount, o.free_shipping), default=None)


def use(coupon_id: int, order_id: int, customer_id: int) -> bool:
    """Mark the coupon used by the order, unless it is used already (does not commit)."""
    return (
        db.session.execute(
            update(Coupon)
            .where(
                Coupon.id == coupon_id,
                Coupon.customer_id == customer_id,
                Coupon.used_order_id.is_(None),
            )
            .values(used_order_id=order_id, used_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def give_back(order_id: int) -> None:
    """The order that used a coupon expired or was cancelled: the coupon is usable again."""
    db.session.execute(
        update(Coupon)
        .where(Coupon.used_order_id == order_id)
        .values(used_order_id=None, used_at=None)
        .execution_options(synchronize_session=False)
    )


def product_lines(quote_lines) -> list[tuple[Product, int, int]]:
    return [(line.variant.product, line.unit_price, line.quantity) for line in quote_lines]
