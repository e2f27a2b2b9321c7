"""Members, points and coupons: tiers and their tasks, the points ledger, coupon templates and
the coupons issued from them, the points shop.

Race rules: a coupon template's ``claimed_count`` and a coupon's ``used_order_id`` change only
by conditional updates; a customer's ``points_balance`` changes only together with a
``PointsEntry`` and never below zero (CHECK constraint and conditional update), so
``sum(entries) == points_balance`` always (``ledger verify`` checks it).
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.catalog.models import EMPTY
from shop.customers.models import Customer
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.vocab import VOCABULARY, Vocabulary


class CreditOn(Vocabulary):
    """When an order's points are credited."""

    PAID = "paid", _l("When the order is paid")
    SETTLED = "settled", _l("When the order settles")


class TaskKind(Vocabulary):
    """One condition to reach a member tier."""

    BUY_PRODUCT = "buy_product", _l("Buy a product")
    SPEND = "spend", _l("Spend an amount")
    REFER = "refer", _l("Bring friends who pay")


class PointsKind(Vocabulary):
    """What a points ledger entry records."""

    EARN = "earn", _l("Earned")
    SPEND = "spend", _l("Spent")
    SPEND_RETURN = "spend_return", _l("Spent, given back")
    TAKE_BACK = "take_back", _l("Taken back (refund)")
    ADJUST = "adjust", _l("Added by staff")
    ADJUST_DOWN = "adjust_down", _l("Taken by staff")
    EXPIRE = "expire", _l("Expired")
    REWARD = "reward", _l("Bring-a-friend reward")
    SHOP = "shop", _l("Points shop")


class CouponKind(Vocabulary):
    FIXED = "fixed", _l("Amount off")
    PERCENT = "percent", _l("Percent off")
    THRESHOLD = "threshold", _l("Spend X, save Y")
    FREE_SHIPPING = "free_shipping", _l("Free delivery")


class CouponScope(Vocabulary):
    """What a coupon applies to (``scope_ids`` names the categories, products or stores)."""

    ALL = "all", _l("Everything")
    CATEGORIES = "categories", _l("Categories")
    PRODUCTS = "products", _l("Products")
    STORES = "stores", _l("Stores")


class CouponSource(Vocabulary):
    """How a customer came to hold a coupon."""

    CLAIM = "claim", _l("Claimed")
    ADMIN = "admin", _l("Granted by staff")
    WELCOME = "welcome", _l("Welcome")
    TIER = "tier", _l("Tier benefit")
    POINTS_SHOP = "points_shop", _l("Points shop")
    REFERRAL = "referral", _l("Bring a friend")


class ReferralStatus(Vocabulary):
    REWARDED = "rewarded", _l("Rewarded")
    REFUSED = "refused", _l("Refused")


class LoyaltySettings(db.Model):
    """Points and referral settings: one row, edited by staff."""

    __tablename__ = "loyalty_settings"
    __table_args__ = (CheckConstraint("credit_on IN ('paid', 'settled')", name="credit_on_known"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    points_per_unit: Mapped[int] = mapped_column(Integer, default=1)  # per major currency unit
    credit_on: Mapped[str] = mapped_column(
        String(8), default=CreditOn.PAID, info={VOCABULARY: CreditOn}
    )
    settle_days: Mapped[int] = mapped_column(Integer, default=7)
    point_value: Mapped[int] = mapped_column(Integer, default=1)  # minor units one point is worth
    redeem_cap_pct: Mapped[int] = mapped_column(Integer, default=50)  # of the order subtotal
    redeem_cap_points: Mapped[int] = mapped_column(Integer, default=100000)
    expiry_months: Mapped[int] = mapped_column(Integer, default=12)
    referral_reward_points: Mapped[int] = mapped_column(Integer, default=500)
    referral_reward_template_id: Mapped[int | None] = mapped_column(
        ForeignKey("coupon_templates.id")
    )
    welcome_template_id: Mapped[int | None] = mapped_column(ForeignKey("coupon_templates.id"))
    # The friend's own reward when their first order is paid; unset: the welcome coupon, if
    # the friend has not had it yet.
    referral_friend_template_id: Mapped[int | None] = mapped_column(
        ForeignKey("coupon_templates.id")
    )


class MemberTier(db.Model):
    __tablename__ = "member_tiers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))  # in Chinese; see shop.i18n.localized
    name_en: Mapped[str] = mapped_column(String(80), default="", server_default=EMPTY)
    description: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    description_en: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    discount_bp: Mapped[int] = mapped_column(Integer, default=0)  # 500 = 5% off
    points_multiplier_pct: Mapped[int] = mapped_column(Integer, default=100)
    free_shipping_from: Mapped[int | None] = mapped_column(Integer)  # minor units
    benefit_template_id: Mapped[int | None] = mapped_column(ForeignKey("coupon_templates.id"))
    retention_days: Mapped[int | None] = mapped_column(Integer)  # must re-qualify within

    tasks: Mapped[list[TierTask]] = relationship(
        back_populates="tier", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:
        return self.name


class TierTask(db.Model):
    """One condition to reach a tier; a customer reaches it when every task is met."""

    __tablename__ = "tier_tasks"
    __table_args__ = (
        CheckConstraint("kind IN ('buy_product', 'spend', 'refer')", name="kind_known"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("member_tiers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), info={VOCABULARY: TaskKind})
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    amount: Mapped[int] = mapped_column(Integer, default=0)  # spend: at least, minor units
    days: Mapped[int | None] = mapped_column(Integer)  # spend: within; None = ever
    count: Mapped[int] = mapped_column(Integer, default=0)  # refer: members with paid orders

    tier: Mapped[MemberTier] = relationship(back_populates="tasks")


class PointsEntry(db.Model):
    """Append-only points ledger. Credits carry ``expires_at`` (or none); replaying the
    entries in order (``shop.members.points.lots``) tells what is left of each and when it
    expires."""

    __tablename__ = "points_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(80), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), index=True, info={VOCABULARY: PointsKind})
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    customer: Mapped[Customer] = relationship()


class CouponTemplate(db.Model):
    __tablename__ = "coupon_templates"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('fixed', 'percent', 'threshold', 'free_shipping')", name="kind_known"
        ),
        CheckConstraint(
            "total_quantity IS NULL OR claimed_count <= total_quantity", name="not_over_claimed"
        ),
        CheckConstraint("value >= 0", name="value_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))  # in Chinese; see shop.i18n.localized
    name_en: Mapped[str] = mapped_column(String(120), default="", server_default=EMPTY)
    kind: Mapped[str] = mapped_column(String(16), info={VOCABULARY: CouponKind})
    value: Mapped[int] = mapped_column(Integer, default=0)  # fixed/threshold: minor; percent: bp
    cap: Mapped[int | None] = mapped_column(Integer)  # percent: most it takes off
    threshold: Mapped[int] = mapped_column(Integer, default=0)  # minimum eligible subtotal
    scope: Mapped[str] = mapped_column(
        String(16), default=CouponScope.ALL, info={VOCABULARY: CouponScope}
    )
    scope_ids: Mapped[list | None] = mapped_column(JSON)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime)
    valid_days: Mapped[int | None] = mapped_column(Integer)  # N days after claim
    total_quantity: Mapped[int | None] = mapped_column(Integer)
    claimed_count: Mapped[int] = mapped_column(Integer, default=0)
    per_customer_limit: Mapped[int] = mapped_column(Integer, default=1)
    new_customers_only: Mapped[bool] = mapped_column(Boolean, default=False)
    combinable_with_points: Mapped[bool] = mapped_column(Boolean, default=True)
    claimable: Mapped[bool] = mapped_column(Boolean, default=True)  # by customers, via links
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def __str__(self) -> str:
        return self.name


class Coupon(db.Model):
    """A coupon a customer holds. ``used_order_id`` is set by a conditional update when an
    order uses it and cleared if that order expires unpaid."""

    __tablename__ = "coupons"
    __table_args__ = (UniqueConstraint("template_id", "customer_id", "seq", name="one_per_seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("coupon_templates.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer, default=1)  # the customer's n-th of this template
    source: Mapped[str] = mapped_column(
        String(16), default=CouponSource.CLAIM, info={VOCABULARY: CouponSource}
    )
    share_code: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    # No foreign key: orders.coupon_id already points here, and a cycle would make the two
    # tables impossible to create or drop in order on SQLite.
    used_order_id: Mapped[int | None] = mapped_column(Integer, index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

    template: Mapped[CouponTemplate] = relationship()
    customer: Mapped[Customer] = relationship()


class PointsShopItem(db.Model):
    """A coupon (including product vouchers) that customers buy with points."""

    __tablename__ = "points_shop_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("coupon_templates.id"))
    points_price: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    template: Mapped[CouponTemplate] = relationship()


class ReferralReward(db.Model):
    """Bring a friend: one row per referred friend, written when their first order is paid:
    what the referrer and the friend were given, or why nothing was (the same person).
    ``friend_id`` is unique, so a payment webhook delivered twice rewards once."""

    __tablename__ = "referral_rewards"
    __table_args__ = (CheckConstraint("status IN ('rewarded', 'refused')", name="status_known"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    friend_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    status: Mapped[str] = mapped_column(String(16), info={VOCABULARY: ReferralStatus})
    reason: Mapped[str] = mapped_column(String(255), default="")
    points: Mapped[int] = mapped_column(Integer, default=0)
    referrer_coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"))
    friend_coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    friend: Mapped[Customer] = relationship(foreign_keys=[friend_id])
    referrer: Mapped[Customer] = relationship(foreign_keys=[referrer_id])
