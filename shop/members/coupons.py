"""Coupons: claim (race-free against the total and the per-customer limit), evaluate against a
basket with a plain reason when one does not apply, use once, give back when an order expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from shop.catalog.models import Category, Product, Store
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.members.models import Coupon, CouponKind, CouponScope, CouponSource, CouponTemplate
from shop.members.topics import MemberTopic
from shop.money import format_money
from shop.orders.models import Order, OrderStatus
from shop.staff import audit

PAID_OR_LATER = (
    OrderStatus.PAID,
    OrderStatus.FULFILLED,
    OrderStatus.PICKED_UP,
    OrderStatus.COMPLETED,
    OrderStatus.REFUNDED,
)

#: what the ids of a coupon of each scope name
_SCOPE_MODELS = {
    CouponScope.CATEGORIES: Category,
    CouponScope.PRODUCTS: Product,
    CouponScope.STORES: Store,
}


def _has_paid_order(customer_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(Order.id)
            .where(Order.customer_id == customer_id, Order.status.in_(PAID_OR_LATER))
            .limit(1)
        )
    )


def refusal(
    template: CouponTemplate | None,
    customer_id: int | None,
    *,
    source: str = CouponSource.CLAIM,
    now: datetime | None = None,
    held_count: int | None = None,
) -> str | None:
    """Why this customer cannot get a coupon of this template now, in plain words, or None.

    The claim page shows it before the button is pressed; ``grant`` checks it again, and the
    quantity and per-customer limit once more by conditional update and unique key.
    ``held_count`` is what the caller read of ``held`` (read once: see ``grant``).
    """
    now = now or utcnow()
    if template is None or not template.active:
        return _("This coupon is not available.")
    if source == CouponSource.CLAIM and not template.claimable:
        return _("This coupon cannot be claimed.")
    if template.valid_until and template.valid_until <= now:
        return _("This coupon has expired.")
    if template.total_quantity is not None and template.claimed_count >= template.total_quantity:
        return _("Sorry, all of these coupons have been claimed.")
    if customer_id is None:
        return None
    if template.new_customers_only and _has_paid_order(customer_id):
        return _("This coupon is for new customers only.")
    if held_count is None:
        held_count = held(template.id, customer_id)
    if held_count >= template.per_customer_limit:
        if template.per_customer_limit == 1:
            return _("You already have this coupon.")
        return _(
            "You already have %(n)d of this coupon, the most one customer may hold.",
            n=template.per_customer_limit,
        )
    return None


def held(template_id: int, customer_id: int) -> int:
    """How many coupons of a template the customer was ever given (used or not)."""
    return db.session.scalar(
        select(func.count(Coupon.id)).where(
            Coupon.template_id == template_id, Coupon.customer_id == customer_id
        )
    )


def remaining(template: CouponTemplate) -> int | None:
    """Coupons of a template still to be claimed; None when unlimited."""
    if template.total_quantity is None:
        return None
    return max(0, template.total_quantity - template.claimed_count)


def grant(
    template_id: int,
    customer_id: int,
    *,
    source: str = CouponSource.CLAIM,
    share_code: str | None = None,
    staff=None,
    now: datetime | None = None,
) -> Coupon:
    """Give a customer a coupon of a template inside the caller's transaction (no commit).

    Raises InvalidInput with the reason if not, having undone its own changes (a savepoint),
    so the caller decides whether the rest of its transaction stands. The template's remaining
    quantity is taken by a conditional update, and the coupon's (template, customer, seq) is
    unique, so 50 simultaneous claims of a 10-coupon template make exactly 10 coupons and one
    customer cannot pass their limit by double-clicking. The coupon is announced
    (``coupon.claimed``) in the same transaction, whatever its source.
    """
    now = now or utcnow()
    template = db.session.get(CouponTemplate, template_id, populate_existing=True)
    # The count is read once: the limit is checked on it and the new coupon's number is the
    # next after it, so two simultaneous claims both number theirs count + 1 and the unique
    # (template, customer, seq) lets one through. Read twice, a claim committed in between
    # would pass the check on the first read and number its coupon from the second.
    count = held(template.id, customer_id) if customer_id is not None else 0
    reason = refusal(template, customer_id, source=source, now=now, held_count=count)
    if reason:
        raise InvalidInput(reason)
    seq = count + 1
    if template.valid_days:
        expires = now + timedelta(days=template.valid_days)
        if template.valid_until:
            expires = min(expires, template.valid_until)
    else:
        expires = template.valid_until
    coupon = Coupon(
        template_id=template.id,
        customer_id=customer_id,
        seq=seq,
        source=source,
        share_code=(share_code or None),
        claimed_at=now,
        expires_at=expires,
    )
    try:
        with db.session.begin_nested():
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
                raise InvalidInput(_("Sorry, all of these coupons have been claimed."))
            db.session.add(coupon)
            db.session.flush()
    except IntegrityError:
        raise InvalidInput(_("You already have this coupon.")) from None
    outbox.publish(MemberTopic.COUPON_CLAIMED, coupon.id)
    if staff is not None:
        audit.record(
            staff,
            "coupon.grant",
            coupon,
            object_type="Coupon",
            after={"template": template.id, "customer": customer_id, "source": source},
        )
    return coupon


def issue(
    template_id: int,
    customer_id: int,
    *,
    source: str = CouponSource.CLAIM,
    share_code: str | None = None,
    staff=None,
    now: datetime | None = None,
) -> Coupon:
    """``grant`` in a savepoint of its own: when it is refused (InvalidInput) or loses to the
    same customer's concurrent claim, nothing of it stays and the caller's transaction goes
    on. Does not commit."""
    try:
        with db.session.begin_nested():
            return grant(
                template_id, customer_id, source=source, share_code=share_code, staff=staff, now=now
            )
    except IntegrityError:  # the same customer's concurrent claim committed first
        raise InvalidInput(_("You already have this coupon.")) from None


def check_template(template: CouponTemplate) -> None:
    """Check a coupon template being made or changed (``InvalidInput``): free delivery has no
    value, any other coupon a value above 0; only percent-off has a cap; a spend-X-save-Y
    coupon's minimum spend is more than what it takes off; validity starts before it ends; the
    total is never below what was claimed. Does not commit."""
    if template.kind == CouponKind.FREE_SHIPPING:
        template.value = 0
    elif template.value is None or template.value <= 0:
        raise InvalidInput(_("A coupon needs a value above 0."))
    if template.kind != CouponKind.PERCENT:
        template.cap = None
    template.threshold = template.threshold or 0
    if template.kind == CouponKind.THRESHOLD and template.threshold <= template.value:
        raise InvalidInput(_("The minimum spend must be more than the amount off."))
    starts, ends = template.valid_from, template.valid_until
    if starts and ends and starts >= ends:
        raise InvalidInput(_("A coupon's validity starts before it ends."))
    claimed = template.claimed_count or 0  # None on a template being made
    if template.total_quantity is not None and template.total_quantity < claimed:
        raise InvalidInput(_("%(n)d were claimed already: the total cannot be less.", n=claimed))
    _check_scope(template)


def _check_scope(template: CouponTemplate) -> None:
    """A coupon for some categories, products or stores names ids that exist."""
    target = _SCOPE_MODELS.get(template.scope)
    if target is None:
        template.scope_ids = None
        return
    if not template.scope_ids:
        raise InvalidInput(_("Enter the ids the coupon applies to."))
    with db.session.no_autoflush:
        found = set(db.session.scalars(select(target.id).where(target.id.in_(template.scope_ids))))
    missing = [str(i) for i in template.scope_ids if i not in found]
    if missing:
        raise InvalidInput(
            _(
                "No %(scope)s with the ids %(ids)s.",
                scope=CouponScope(template.scope).label,
                ids=", ".join(missing),
            )
        )


def claimable_for(product: Product, limit: int = 4) -> list[CouponTemplate]:
    """The coupons a customer can claim now that take something off this product (for the
    product page's chips): active, claimable, valid now, not all claimed, scoped to the whole
    shop, the product, its category or its store. Biggest fixed amounts first."""
    now = utcnow()
    found = db.session.scalars(
        select(CouponTemplate)
        .where(
            CouponTemplate.active.is_(True),
            CouponTemplate.claimable.is_(True),
            or_(CouponTemplate.valid_from.is_(None), CouponTemplate.valid_from <= now),
            or_(CouponTemplate.valid_until.is_(None), CouponTemplate.valid_until > now),
            or_(
                CouponTemplate.total_quantity.is_(None),
                CouponTemplate.claimed_count < CouponTemplate.total_quantity,
            ),
        )
        .order_by(CouponTemplate.value.desc(), CouponTemplate.id)
    )
    scoped = {
        CouponScope.PRODUCTS: product.id,
        CouponScope.CATEGORIES: product.category_id,
        CouponScope.STORES: product.store_id,
    }
    return [
        template
        for template in found
        if template.scope == CouponScope.ALL
        or scoped.get(template.scope) in (template.scope_ids or [])
    ][:limit]


def hundredths(value: int) -> str:
    """An integer in hundredths as plain text: basis points as a percent (1250 -> "12.5"),
    a multiplier in percent as a factor (150 -> "1.5"). No floats."""
    whole, part = divmod(value, 100)
    return f"{whole}.{part:02d}".rstrip("0") if part else str(whole)


def describe(template: CouponTemplate) -> str:
    """What a coupon gives, in plain words: "¥10 off", "15% off (up to ¥30)", ..."""
    if template.kind == CouponKind.FREE_SHIPPING:
        text = _("Free delivery")
    elif template.kind == CouponKind.PERCENT:
        pct = hundredths(template.value)
        text = (
            _("%(pct)s%% off (up to %(cap)s)", pct=pct, cap=format_money(template.cap))
            if template.cap is not None
            else _("%(pct)s%% off", pct=pct)
        )
    else:
        text = _("%(amount)s off", amount=format_money(template.value))
    if template.threshold:
        text = _("%(offer)s on %(min)s or more", offer=text, min=format_money(template.threshold))
    return text


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
    if template.scope == CouponScope.ALL:
        return sum(price * qty for _p, price, qty in lines)
    if template.scope == CouponScope.STORES:
        return sum(price * qty for _p, price, qty in lines) if store_id in ids else 0
    if template.scope == CouponScope.PRODUCTS:
        return sum(price * qty for product, price, qty in lines if product.id in ids)
    if template.scope == CouponScope.CATEGORIES:
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
                amount=format_money(template.threshold),
            )
        )
    if template.kind == CouponKind.FREE_SHIPPING:
        return Option(coupon, 0, True, None)
    if template.kind == CouponKind.PERCENT:
        off = (eligible * template.value * 2 + 10000) // 20000
        if template.cap is not None:
            off = min(off, template.cap)
    else:  # fixed, threshold
        off = template.value
    return Option(coupon, min(off, eligible), False, None)


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


def missing_reason(coupon_ref, customer_id: int) -> str:
    """Why a coupon asked for by id is not among the customer's unused ones, in plain words."""
    ref = str(coupon_ref).strip()
    coupon = db.session.get(Coupon, int(ref)) if ref.isdecimal() and len(ref) < 10 else None
    if coupon is not None and coupon.customer_id != customer_id:
        return _("This coupon belongs to someone else.")
    if coupon is not None and coupon.used_order_id is not None:
        return _("This coupon has already been used.")
    return _("That coupon is not in your wallet.")


def best(found: list[Option]) -> Option | None:
    usable = [o for o in found if o.applies]
    return max(usable, key=lambda o: (o.discount, o.free_shipping), default=None)


def use(coupon_id: int, order_id: int, customer_id: int) -> bool:
    """Mark the coupon used by the order, unless it is used already, and announce it
    (``coupon.redeemed``). Does not commit."""
    used = (
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
    if used:
        outbox.publish(MemberTopic.COUPON_REDEEMED, coupon_id, order_id)
    return used


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
