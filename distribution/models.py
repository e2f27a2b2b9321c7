"""Distribution tables: sharers, share links, visits, bindings, attributions, commission.

The commission ledger is append-only: ``CommissionEntry`` rows are only ever inserted. Every
balance (pending, settled, paid out) is a sum of entries; nothing stores a balance.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.catalog.models import Store
from shop.customers.models import Customer
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.staff.models import Staff

_ALPHABET = string.ascii_letters + string.digits


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
    binding_policy: Mapped[str] = mapped_column(String(32), default="first-sharer-protected")
    protection_days: Mapped[int] = mapped_column(Integer, default=15)
    validity_days: Mapped[int] = mapped_column(Integer, default=30)  # 0: permanent
    depth: Mapped[int] = mapped_column(Integer, default=2)
    self_purchase_earns: Mapped[bool] = mapped_column(Boolean, default=False)
    return_window_days: Mapped[int] = mapped_column(Integer, default=7)
    promoter_approval: Mapped[bool] = mapped_column(Boolean, default=False)


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
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), unique=True)
    phone: Mapped[str] = mapped_column(String(32), default="", index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("sharers.id"), index=True)
    level_id: Mapped[int | None] = mapped_column(ForeignKey("sharer_levels.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # pending, active, left
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
    target_type: Mapped[str] = mapped_column(String(16))  # home, product, category, coupon, live
    target_id: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(32), default="")
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
    channel: Mapped[str] = mapped_column(String(32), default="")
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
    ended_reason: Mapped[str] = mapped_column(String(32), default="")

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
    rule: Mapped[str] = mapped_column(String(40))
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
    scope: Mapped[str] = mapped_column(String(16))  # default, store, category, product, sku
    scope_id: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16), default="percent")
    level1_value: Mapped[int] = mapped_column(Integer)
    level2_value: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int | None] = mapped_column(Integer)  # set when published
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
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
    kind: Mapped[str] = mapped_column(String(16))  # accrue, settle, payout, reverse
    bucket: Mapped[str] = mapped_column(String(16))  # pending, settled, paid
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
    status: Mapped[str] = mapped_column(String(16), default="approved")
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
