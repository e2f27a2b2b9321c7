"""Share links, visits and bindings: what happens when someone opens ``/s/<code>``."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import url_for
from sqlalchemy import or_, select, update

from shop.extensions import db
from shop.models import Category, Product, utcnow

from .models import Binding, DistributionSettings, ShareLink, Sharer, Visit

TARGETS = ("home", "product", "category", "coupon", "live")
CHANNELS = ("", "wechat-group", "moments", "whatsapp", "in-store", "poster", "other")


def settings() -> DistributionSettings:
    """The programme settings (the single row, created with defaults when missing)."""
    row = db.session.scalar(select(DistributionSettings).order_by(DistributionSettings.id))
    if row is None:
        row = DistributionSettings()
        db.session.add(row)
        db.session.flush()
    return row


def link_for(sharer: Sharer, target_type: str, target_id: int = 0, channel: str = "") -> ShareLink:
    """The sharer's link to a target on a channel, made on first use (one per combination)."""
    if target_type not in TARGETS:
        raise ValueError(f"unknown share target {target_type!r}")
    channel = channel if channel in CHANNELS else "other"
    query = select(ShareLink).where(
        ShareLink.sharer_id == sharer.id,
        ShareLink.target_type == target_type,
        ShareLink.target_id == target_id,
        ShareLink.channel == channel,
    )
    link = db.session.scalar(query)
    if link is None:
        link = ShareLink(
            sharer_id=sharer.id, target_type=target_type, target_id=target_id, channel=channel
        )
        db.session.add(link)
        db.session.commit()
    return link


def target_path(link: ShareLink | None) -> str:
    """Where a link leads: always a path inside the shop (never another host)."""
    if link is None:
        return url_for("shop.home")
    if link.target_type == "product":
        slug = db.session.scalar(
            select(Product.slug).where(Product.id == link.target_id, Product.active.is_(True))
        )
        if slug:
            return url_for("shop.product", slug=slug)
    elif link.target_type == "category":
        slug = db.session.scalar(select(Category.slug).where(Category.id == link.target_id))
        if slug:
            return url_for("shop.category", slug=slug)
    elif link.target_type == "coupon":
        from shop.member_models import CouponTemplate

        if db.session.get(CouponTemplate, link.target_id) is not None:
            return url_for("account.coupon", template_id=link.target_id)
    return url_for("shop.home")


def find_link(code: str) -> ShareLink | None:
    if not code or len(code) > 16 or not code.isalnum():
        return None
    return db.session.scalar(select(ShareLink).where(ShareLink.code == code))


def open_link(
    link: ShareLink, visitor_id: str, customer_id: int | None = None, now: datetime | None = None
) -> Visit:
    """Record the visit and create or refresh the binding it implies, in one transaction."""
    now = now or utcnow()
    visit = Visit(
        link_id=link.id,
        sharer_id=link.sharer_id,
        visitor_id=visitor_id,
        customer_id=customer_id,
        channel=link.channel,
        created_at=now,
    )
    db.session.add(visit)
    sharer = db.session.get(Sharer, link.sharer_id)
    if sharer is not None and sharer.status == "active":
        touch(sharer, link, visitor_id, customer_id, now)
    db.session.commit()
    return visit


def active_bindings(
    visitor_id: str | None, customer_id: int | None, now: datetime
) -> list[Binding]:
    conditions = []
    if customer_id:
        conditions.append(Binding.customer_id == customer_id)
    if visitor_id:
        conditions.append(Binding.visitor_id == visitor_id)
    if not conditions:
        return []
    return list(
        db.session.scalars(
            select(Binding)
            .where(
                or_(*conditions),
                Binding.active.is_(True),
                or_(Binding.valid_until.is_(None), Binding.valid_until > now),
            )
            .order_by(Binding.bound_at, Binding.id)
        )
    )


def touch(
    sharer: Sharer,
    link: ShareLink | None,
    visitor_id: str | None,
    customer_id: int | None,
    now: datetime,
) -> Binding:
    """Apply the binding policy to one touch (a link opened, an in-store scan).

    first-sharer-protected: while the current binding is protected, another sharer's touch
    changes nothing; the same sharer's touch refreshes it. last-click: the newest touch wins.
    """
    rules = settings()
    current = active_bindings(visitor_id, customer_id, now)
    holder = current[0] if current else None
    if holder is not None and holder.sharer_id == sharer.id:
        _refresh(holder, rules, now, link)
        return holder
    if (
        holder is not None
        and rules.binding_policy == "first-sharer-protected"
        and holder.protected_until
        and holder.protected_until > now
    ):
        return holder
    for old in current:
        old.active = False
        old.ended_reason = "replaced"
    binding = Binding(
        visitor_id=visitor_id,
        customer_id=customer_id,
        sharer_id=sharer.id,
        link_id=link.id if link else None,
        bound_at=now,
    )
    _refresh(binding, rules, now, link)
    db.session.add(binding)
    return binding


def _refresh(
    binding: Binding, rules: DistributionSettings, now: datetime, link: ShareLink | None
) -> None:
    binding.touched_at = now
    binding.protected_until = now + timedelta(days=rules.protection_days)
    binding.valid_until = now + timedelta(days=rules.validity_days) if rules.validity_days else None
    if link is not None:
        binding.link_id = link.id


def transfer_customers(from_sharer: Sharer, to_sharers: list[Sharer], staff=None) -> int:
    """A guide leaves: move their open bindings to another guide (or round-robin over several).

    Old bindings end with reason "transferred" and new ones start for the receiving guide, so
    history keeps who brought whom. Returns the number of bindings moved.
    """
    from shop import audit

    if not to_sharers:
        raise ValueError("no guide to transfer to")
    now = utcnow()
    rules = settings()
    moved = 0
    open_bindings = list(
        db.session.scalars(
            select(Binding)
            .where(Binding.sharer_id == from_sharer.id, Binding.active.is_(True))
            .order_by(Binding.id)
        )
    )
    for index, old in enumerate(open_bindings):
        heir = to_sharers[index % len(to_sharers)]
        old.active = False
        old.ended_reason = "transferred"
        new = Binding(
            visitor_id=old.visitor_id,
            customer_id=old.customer_id,
            sharer_id=heir.id,
            link_id=None,
            bound_at=now,
        )
        _refresh(new, rules, now, None)
        db.session.add(new)
        moved += 1
    db.session.execute(update(Sharer).where(Sharer.id == from_sharer.id).values(status="left"))
    if from_sharer.staff is not None:
        from_sharer.staff.active = False
    audit.record(
        staff,
        "guide.leave",
        from_sharer,
        object_type="Sharer",
        before={"status": from_sharer.status},
        after={"status": "left", "bindings_moved": moved, "to": [s.id for s in to_sharers]},
        store_id=from_sharer.store_id,
    )
    db.session.commit()
    return moved
