"""Bring a friend: each customer's referral link, who referred whom, and the reward when a
referred friend's first order is paid.

A friend is linked to their referrer only while new (no paid order yet), never to
themselves. The reward is decided once per friend: a ``ReferralReward`` row with the friend
unique is written first in the transaction that gives the points and coupons, so a payment
webhook delivered twice (or two jobs at once) rewards once. Nothing is given when the friend
looks like the referrer: the same phone, the same delivery address or the same device.
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from shop.customers.models import Customer
from shop.customers.topics import CustomerTopic
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.members import coupons, points
from shop.members.coupons import PAID_OR_LATER
from shop.members.models import Coupon, CouponSource, PointsKind, ReferralReward, ReferralStatus
from shop.orders.models import Order

log = logging.getLogger(__name__)

CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud or typed
CODE_LENGTH = 12  # 31 ** 12 ≈ 2 ** 59: not guessable


def referral_code(customer_id: int) -> str:
    """The customer's referral code, made on first use (a conditional update keeps the first
    one when two requests make it at once). Does not commit."""
    for _attempt in range(5):
        code = db.session.scalar(
            select(Customer.referral_code)
            .where(Customer.id == customer_id)
            .execution_options(populate_existing=True)
        )
        if code:
            return code
        candidate = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with db.session.begin_nested():
                db.session.execute(
                    update(Customer)
                    .where(Customer.id == customer_id, Customer.referral_code.is_(None))
                    .values(referral_code=candidate)
                    .execution_options(synchronize_session=False)
                )
        except IntegrityError:  # another customer drew the same code
            pass
    raise RuntimeError("could not make a referral code")


def find_referrer(code: str) -> Customer | None:
    if not code or len(code) > 16 or not code.isalnum():
        return None
    return db.session.scalar(select(Customer).where(Customer.referral_code == code.lower()))


def _has_paid_order(customer_id):
    return exists().where(Order.customer_id == customer_id, Order.status.in_(PAID_OR_LATER))


def link_referrer(customer_id: int, referrer_id: int | None) -> bool:
    """Record who brought a new customer (no paid order yet, no referrer yet, not themselves,
    not the one they brought). True if this call linked them. Does not commit: it runs
    inside the transaction that places an order, or the sign-in's."""
    if not referrer_id or referrer_id == customer_id:
        return False
    # Read from the database: an earlier link in this same transaction is not in the session.
    found = db.session.execute(
        select(Customer.id, Customer.referrer_id).where(Customer.id == referrer_id)
    ).first()
    if found is None or found.referrer_id == customer_id:
        return False
    linked = db.session.execute(
        update(Customer)
        .where(
            Customer.id == customer_id,
            Customer.referrer_id.is_(None),
            ~_has_paid_order(customer_id),
        )
        .values(referrer_id=referrer_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if linked:
        outbox.publish(CustomerTopic.UPDATED, customer_id, "referrer_id", utcnow().isoformat())
    return linked == 1


def note_device(customer_id: int, visitor_id: str | None) -> None:
    """Remember the first browser (visitor id) a customer was seen on. Does not commit."""
    if not visitor_id:
        return
    db.session.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.first_visitor_id.is_(None))
        .values(first_visitor_id=visitor_id[:64])
        .execution_options(synchronize_session=False)
    )


def normalize_address(city: str | None, address: str | None) -> str:
    """Case, width, spaces and punctuation do not make a different address."""
    if not (address or "").strip():
        return ""
    text = unicodedata.normalize("NFKC", f"{city or ''}{address}").casefold()
    return re.sub(r"[\W_]+", "", text)


def same_person(friend: Customer, referrer: Customer, order: Order) -> str | None:
    """Why the friend looks like the referrer themselves, or None."""
    theirs = list(db.session.scalars(select(Order).where(Order.customer_id == referrer.id)))
    if order.phone == referrer.phone or order.phone in {o.phone for o in theirs}:
        return "same phone"
    addresses = {normalize_address(referrer.city, referrer.address)}
    addresses |= {normalize_address(o.city, o.address) for o in theirs}
    addresses.discard("")
    mine = {
        normalize_address(order.city, order.address),
        normalize_address(friend.city, friend.address),
    }
    if addresses & (mine - {""}):
        return "same address"
    devices = {referrer.first_visitor_id} | {o.visitor_id for o in theirs}
    devices.discard(None)
    if devices & ({order.visitor_id, friend.first_visitor_id} - {None}):
        return "same device"
    return None


def first_paid_order(customer_id: int) -> Order | None:
    return db.session.scalar(
        select(Order)
        .where(
            Order.customer_id == customer_id,
            Order.status.in_(PAID_OR_LATER),
            Order.paid_at.is_not(None),
        )
        .order_by(Order.paid_at, Order.id)
        .limit(1)
    )


def welcome_given(customer_id: int, template_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(Coupon.id).where(
                Coupon.customer_id == customer_id,
                Coupon.template_id == template_id,
                Coupon.source == CouponSource.WELCOME,
            )
        )
    )


def reward(order_id: int) -> ReferralReward | None:
    """Reward the referrer (points and/or a coupon) and the friend, once, when the friend
    whose order this is has a referrer and a paid first order. Safe to run twice. Does not
    commit.

    The friend gets the bring-a-friend coupon for friends (``referral_friend_template_id``),
    on top of the welcome coupon every new member got at sign-in. Where the shop set none, the
    friend gets the welcome coupon instead, unless they already had it: one welcome each.
    """
    order = db.session.get(Order, order_id)
    if order is None or order.status not in PAID_OR_LATER:
        return None
    friend = db.session.get(Customer, order.customer_id, populate_existing=True)
    if friend is None or not friend.referrer_id:
        return None
    if db.session.scalar(select(ReferralReward.id).where(ReferralReward.friend_id == friend.id)):
        return None
    first = first_paid_order(friend.id)
    referrer = db.session.get(Customer, friend.referrer_id)
    if first is None or referrer is None:
        return None
    reason = same_person(friend, referrer, first)
    row = ReferralReward(
        friend_id=friend.id,
        referrer_id=referrer.id,
        order_id=first.id,
        status=ReferralStatus.REFUSED if reason else ReferralStatus.REWARDED,
        reason=reason or "",
    )
    try:
        with db.session.begin_nested():  # the second delivery of the same payment stops here
            db.session.add(row)
    except IntegrityError:
        return None
    if reason is None:
        _give(row, friend, referrer, first)
    return row


def _give(row: ReferralReward, friend: Customer, referrer: Customer, order: Order) -> None:
    """The rewards, inside the transaction that wrote ``row``. A coupon that cannot be given
    (all claimed, say) is noted on the row; the rest still stands."""
    rules = points.settings()
    notes = []
    if rules.referral_reward_points > 0:
        points.post(
            referrer.id,
            rules.referral_reward_points,
            PointsKind.REWARD,
            f"referral:{friend.id}",
            expires_at=points.expiry_date(),
            note=f"friend's order {order.number}",
        )
        row.points = rules.referral_reward_points
    if rules.referral_reward_template_id:
        try:
            row.referrer_coupon_id = coupons.grant(
                rules.referral_reward_template_id, referrer.id, source=CouponSource.REFERRAL
            ).id
        except InvalidInput as exc:
            notes.append(f"referrer coupon: {exc.message}")
    if rules.referral_friend_template_id:
        template_id, source = rules.referral_friend_template_id, CouponSource.REFERRAL
    elif rules.welcome_template_id and not welcome_given(friend.id, rules.welcome_template_id):
        template_id, source = rules.welcome_template_id, CouponSource.WELCOME
    else:
        template_id = None
    if template_id:
        try:
            row.friend_coupon_id = coupons.grant(template_id, friend.id, source=source).id
        except InvalidInput as exc:
            notes.append(f"friend coupon: {exc.message}")
    row.reason = "; ".join(notes)[:255]
