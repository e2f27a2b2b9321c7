"""Distribution tables: sharers, share links, visits, bindings, attributions, commission.

The commission ledger is append-only: ``CommissionEntry`` rows are only ever inserted. Every
balance (pending, settled, paid out) is a sum of entries; nothing stores a balance.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.catalog.models import Store
from shop.customers.models import Customer
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.vocab import VOCABULARY, Vocabulary
from shop.staff.models import Staff

_ALPHABET = string.ascii_letters + string.digits


class BindingPolicy(Vocabulary):
    """Whether a second sharer's link takes a bound customer over during protection."""

    FIRST_SHARER_PROTECTED = "first-sharer-protected", _l("First sharer protected")
    LAST_CLICK = "last-click", _l("Last click")


class SharerKind(Vocabulary):
    GUIDE = "guide", _l("Guide")
    PROMOTER = "promoter", _l("Promoter")


class SharerStatus(Vocabulary):
    PENDING = "pending", _l("Pending approval")
    ACTIVE = "active", _l("Active")
    LEFT = "left", _l("Left")


class LinkTarget(Vocabulary):
    """What a share link opens."""

    HOME = "home", _l("Home page")
    PRODUCT = "product", _l("Product")
    CATEGORY = "category", _l("Category")
    COUPON = "coupon", _l("Coupon")
    LIVE = "live", _l("Live session")


class Channel(Vocabulary):
    """Where a link is shared; "" is a link made for no channel in particular."""

    ANY = "", _l("Any")
    WECHAT_GROUP = "wechat-group", _l("WeChat group")
    MOMENTS = "moments", _l("Moments")
    WHATSAPP = "whatsapp", _l("WhatsApp")
    IN_STORE = "in-store", _l("In store")
    POSTER = "poster", _l("Poster")
    OTHER = "other", _l("Other")


#: the channels a sharer picks from when making a link (in this order)
PICKABLE_CHANNELS = (
    Channel.WECHAT_GROUP,
    Channel.MOMENTS,
    Channel.WHATSAPP,
    Channel.IN_STORE,
    Channel.POSTER,
)


class BindingState(Vocabulary):
    """Where a binding stands, as the workbench shows it. A binding that ended stores how in
    ``Binding.ended_reason`` (replaced or transferred)."""

    PROTECTED = "protected", _l("Protected")
    ACTIVE = "active", lazy_pgettext("binding status", "Bound")
    EXPIRED = "expired", _l("Expired")
    REPLACED = "replaced", _l("Taken over")
    TRANSFERRED = "transferred", _l("Transferred")


class AttributionRule(Vocabulary):
    """What decided an order's attribution: the binding policy when a sharer is credited,
    otherwise why no one is."""

    FIRST_SHARER_PROTECTED = "first-sharer-protected", _l("First sharer protected")
    LAST_CLICK = "last-click", _l("Last click")
    NO_TOUCH = "no-touch", _l("No share link opened")
    FORGED_CODE = "forged-code", _l("Unknown share code")
    SELF_PURCHASE = "self-purchase", _l("Self-purchase")
    SHARER_INACTIVE = "sharer-inactive", _l("Sharer no longer active")
    LIVE_INVITE = "live-invite", _l("Live invite outranks the binding")


class RuleScope(Vocabulary):
    """What a commission rule applies to, most specific first (the order rates are found in)."""

    SKU = "sku", _l("SKU (variant)")
    PRODUCT = "product", _l("Product")
    CATEGORY = "category", _l("Category")
    STORE = "store", _l("Store")
    DEFAULT = "default", _l("Default")


class RuleKind(Vocabulary):
    PERCENT = "percent", _l("Percentage of the amount paid")
    FIXED = "fixed", _l("Fixed per unit")


class RuleStatus(Vocabulary):
    DRAFT = "draft", _l("Draft")
    PUBLISHED = "published", _l("Published")
    ARCHIVED = "archived", _l("Archived")


class EntryKind(Vocabulary):
    """What a commission ledger entry records."""

    ACCRUE = "accrue", _l("Accrued")
    SETTLE = "settle", _l("Settled")
    PAYOUT = "payout", _l("Payout")
    REVERSE = "reverse", _l("Reversed (refund)")
    # A live tip for the host guide (``live.tips``): +x settled when paid, -x if refunded.
    TIP = "tip", _l("Live tip")


class Bucket(Vocabulary):
    """Where a commission ledger entry's money sits."""

    PENDING = "pending", lazy_pgettext("commission", "Pending")
    SETTLED = "settled", _l("Settled")
    PAID = "paid", lazy_pgettext("commission", "Paid")


class PayoutStatus(Vocabulary):
    APPROVED = "approved", _l("Approved")


def new_code() -> str:
    """An 8-character share code: 62**8 ≈ 2e14, not guessable by walking ids."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


class DistributionSettings(db.Model):
    """The programme's settings, one row, edited by staff in the admin panel."""

    __tablename__ = "distribution_settings"
    __table_args__ = (
        CheckConstraint("depth IN (1, 2)", name="depth_1_or_2"),
        CheckConstraint(
            "binding_policy IN ('first-sharer-protected', 'last-click')", name="policy_known"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    binding_policy: Mapped[str] = mapped_column(
        String(32),
        default=BindingPolicy.FIRST_SHARER_PROTECTED,
        info={VOCABULARY: BindingPolicy},
    )
    protection_days: Mapped[int] = mapped_column(Integer, default=15)
    validity_days: Mapped[int] = mapped_column(Integer, default=30)  # 0: permanent
    depth: Mapped[int] = mapped_column(Integer, default=2)
    self_purchase_earns: Mapped[bool] = mapped_column(Boolean, default=False)
    return_window_days: Mapped[int] = mapped_column(Integer, default=7)
    promoter_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether a live session's invite link credits its sharer for the session's orders even
    # when the customer is bound to another sharer (else the binding decides, as everywhere).
    live_invite_outranks_binding: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class SharerLevel(db.Model):
    """A guide or promoter level: a commission multiplier and the tasks to reach it."""

    __tablename__ = "sharer_levels"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    rank: Mapped[int] = mapped_column(Integer, default=0)
    multiplier_pct: Mapped[int] = mapped_column(Integer, default=100)  # 100 = ×1.00
    invites_needed: Mapped[int] = mapped_column(Integer, default=0)
    team_sales_needed: Mapped[int] = mapped_column(Integer, default=0)  # minor units

    def __str__(self) -> str:
        return self.name


class Sharer(db.Model):
    """Someone who shares links and may earn commission: a guide (a staff login of a store)
    or a promoter (a customer in the programme), with the sharer who recruited them."""

    __tablename__ = "sharers"
    __table_args__ = (CheckConstraint("kind IN ('guide', 'promoter')", name="kind_known"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), info={VOCABULARY: SharerKind})
    name: Mapped[str] = mapped_column(String(120))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), unique=True)
    phone: Mapped[str] = mapped_column(String(32), default="", index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("sharers.id"), index=True)
    level_id: Mapped[int | None] = mapped_column(ForeignKey("sharer_levels.id"))
    status: Mapped[str] = mapped_column(
        String(16), default=SharerStatus.ACTIVE, info={VOCABULARY: SharerStatus}
    )
    # A promoter's secret: their workbench opens at /guide/p/<token> (guides sign in instead).
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    staff: Mapped[Staff | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    store: Mapped[Store | None] = relationship()
    parent: Mapped[Sharer | None] = relationship(remote_side="Sharer.id")
    level: Mapped[SharerLevel | None] = relationship()

    def __str__(self) -> str:
        return self.name


class ShareLink(db.Model):
    """``/s/<code>``: who shares (sharer), what (target) and where (channel)."""

    __tablename__ = "share_links"
    __table_args__ = (
        UniqueConstraint(
            "sharer_id", "target_type", "target_id", "channel", name="one_per_target_channel"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True, default=new_code)
    sharer_id: Mapped[int] = mapped_column(ForeignKey("sharers.id"), index=True)
    target_type: Mapped[str] = mapped_column(String(16), info={VOCABULARY: LinkTarget})
    target_id: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(
        String(32), default=Channel.ANY, info={VOCABULARY: Channel}
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    sharer: Mapped[Sharer] = relationship()

    def __str__(self) -> str:
        return self.code


class Visit(db.Model):
    """One opening of a share link: the start of the attribution trail."""

    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("share_links.id"), index=True)
    sharer_id: Mapped[int] = mapped_column(ForeignKey("sharers.id"), index=True)
    visitor_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(
        String(32), default=Channel.ANY, info={VOCABULARY: Channel}
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    link: Mapped[ShareLink] = relationship()
    sharer: Mapped[Sharer] = relationship()


class Binding(db.Model):
    """A customer (or, before checkout, a visitor) bound to the sharer who brought them.

    ``protected_until``: until then another sharer's link does not take the customer over
    (policy first-sharer-protected). ``valid_until``: after it the binding counts for nothing
    (None: permanent). A binding replaced or transferred keeps its row: history stays.
    """

    __tablename__ = "bindings"
    id: Mapped[int] = mapped_column(primary_key=True)
    visitor_id: Mapped[str | None] = mapped_column(String(64), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    sharer_id: Mapped[int] = mapped_column(ForeignKey("sharers.id"), index=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("share_links.id"))
    bound_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    touched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    protected_until: Mapped[datetime | None] = mapped_column(DateTime)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    # "" while active; replaced or transferred (a BindingState) once ended
    ended_reason: Mapped[str] = mapped_column(
        String(32), default="", info={VOCABULARY: BindingState}
    )

    sharer: Mapped[Sharer] = relationship()
    customer: Mapped[Customer | None] = relationship()


class Attribution(db.Model):
    """Decided once at order placement and frozen: who gets credit and why, in plain words."""

    __tablename__ = "attributions"
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    sharer_id: Mapped[int | None] = mapped_column(ForeignKey("sharers.id"), index=True)
    parent_sharer_id: Mapped[int | None] = mapped_column(ForeignKey("sharers.id"), index=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("share_links.id"))
    live_session_id: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(40), info={VOCABULARY: AttributionRule})
    facts: Mapped[dict | None] = mapped_column(JSON)
    touches: Mapped[list | None] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    sharer: Mapped[Sharer | None] = relationship(foreign_keys=[sharer_id])
    parent_sharer: Mapped[Sharer | None] = relationship(foreign_keys=[parent_sharer_id])


class CommissionRule(db.Model):
    """A commission rule version. Publishing a new version archives the one it replaces.

    Scope precedence, most specific first: sku > product > category > store > default.
    ``kind`` percent: values in basis points of the amount paid (1000 = 10%); fixed: minor
    units per unit sold.
    """

    __tablename__ = "commission_rules"
    __table_args__ = (
        CheckConstraint("level1_value >= 0 AND level2_value >= 0", name="values_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), info={VOCABULARY: RuleScope})
    scope_id: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(
        String(16), default=RuleKind.PERCENT, info={VOCABULARY: RuleKind}
    )
    level1_value: Mapped[int] = mapped_column(Integer)
    level2_value: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int | None] = mapped_column(Integer)  # set when published
    status: Mapped[str] = mapped_column(
        String(16), default=RuleStatus.DRAFT, index=True, info={VOCABULARY: RuleStatus}
    )
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)


class CommissionEntry(db.Model):
    """Append-only ledger line. ``bucket`` is where the money sits: pending, settled or paid.

    accrue: +x pending. settle: -x pending, +x settled. payout: -x settled, +x paid.
    reverse (refund): -y from the bucket the line's money sits in now (pending, else settled;
    after a payout the settled balance may go negative and the next payout nets it).
    ``entry_key`` is unique and names the event that wrote the entry, so a replayed webhook
    or a job run twice cannot write it again.

    Settlement writes a row per line it settles, so every index costs there: ``kind`` and
    ``bucket`` (four and three values, no query that an index would serve) have none, and
    only payout entries enter the ``payout_id`` index.
    """

    __tablename__ = "commission_entries"
    __table_args__ = (
        Index(
            "ix_commission_entries_payout_id",
            "payout_id",
            postgresql_where=text("payout_id IS NOT NULL"),
            sqlite_where=text("payout_id IS NOT NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(80), unique=True)
    sharer_id: Mapped[int] = mapped_column(ForeignKey("sharers.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"), index=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(16), info={VOCABULARY: EntryKind})
    bucket: Mapped[str] = mapped_column(String(16), info={VOCABULARY: Bucket})
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("commission_rules.id"))
    # How the amount was computed, so `ledger verify` can recompute it: percent rules store
    # rate_ppm (basis points × level multiplier %), fixed rules store per_unit_x100.
    rate_ppm: Mapped[int | None] = mapped_column(Integer)
    per_unit_x100: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(255), default="")
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    sharer: Mapped[Sharer] = relationship()


class Payout(db.Model):
    """A payout batch for one sharer, approved by finance."""

    __tablename__ = "payouts"
    id: Mapped[int] = mapped_column(primary_key=True)
    sharer_id: Mapped[int] = mapped_column(ForeignKey("sharers.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(
        String(16), default=PayoutStatus.APPROVED, info={VOCABULARY: PayoutStatus}
    )
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    sharer: Mapped[Sharer] = relationship()


class AcquisitionCost(db.Model):
    """What the company spent to win a customer (entered by staff), for lifetime value."""

    __tablename__ = "acquisition_costs"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    customer: Mapped[Customer] = relationship()
