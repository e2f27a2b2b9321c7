"""Attribution: decided once when an order is placed, frozen, and explained in plain words."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from flask_babel import format_date, format_timedelta
from flask_babel import gettext as _
from sqlalchemy import insert, or_, select
from sqlalchemy.exc import IntegrityError

from distribution.models import (
    Attribution,
    AttributionRule,
    Binding,
    LinkTarget,
    ShareLink,
    Sharer,
    SharerStatus,
    Visit,
)
from distribution.sharing import active_bindings, announce_guide_change, settings
from distribution.topics import GuideChange
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders.models import Order

_INSERT_ATTRIBUTION = insert(Attribution.__table__)  # built once: every order runs it


def _touches(order: Order, since: datetime | None) -> list[Visit]:
    conditions = [Visit.customer_id == order.customer_id]
    if order.visitor_id:
        conditions.append(Visit.visitor_id == order.visitor_id)
    query = select(Visit).where(or_(*conditions), Visit.created_at <= order.created_at)
    if since is not None:
        query = query.where(Visit.created_at >= since)
    return list(db.session.scalars(query.order_by(Visit.created_at, Visit.id).limit(20)))


def _is_self_purchase(sharer: Sharer, order: Order) -> bool:
    return sharer.customer_id == order.customer_id or (
        bool(sharer.phone) and sharer.phone == order.phone
    )


def attribute_order(order_id: int) -> Attribution | None:
    """Decide who gets credit for an order; idempotent (the first decision stands).

    Orders are attributed as they are placed (``attribute_placed_order``); this is for an
    order that was not (its attribution failed then): the accrual job calls it first. Does
    not commit.
    """
    existing = db.session.get(Attribution, order_id)
    if existing is not None:
        return existing
    order = db.session.get(Order, order_id)
    if order is None:
        return None
    attribution = Attribution(**_decide(order, customer_is_new=False))
    try:
        with db.session.begin_nested():  # a concurrent decision stands; this one is dropped
            db.session.add(attribution)
    except IntegrityError:
        return db.session.get(Attribution, order_id)
    return attribution


def attribute_placed_order(order: Order, customer_is_new: bool) -> None:
    """Attribute an order inside the transaction that places it (``order_placing``).

    Adds the row and does not commit: it commits with the order. The order is new, so it has
    no attribution to look for; a customer this order created has no binding of their own yet
    (nothing committed can name them), so only the visitor's bindings are looked up.
    """
    db.session.execute(_INSERT_ATTRIBUTION, _decide(order, customer_is_new))


def sharer_store_id(values: Mapping) -> int | None:
    """The store of the guide (or the recruiting guide of a promoter) who brought a visitor:
    the one their active binding names, as ``_decide`` would credit, else the sharer of the
    share link they carry; None when no active sharer with a store brought them. The
    checkout preselects it for pick-up, and an order without a pick-up store belongs to it."""
    bindings = active_bindings(values.get("visitor_id"), values.get("customer_id"), utcnow())
    sharer = bindings[0].sharer if bindings else None
    if sharer is None and values.get("share_code"):
        sharer = db.session.scalar(
            select(Sharer)
            .join(ShareLink, ShareLink.sharer_id == Sharer.id)
            .where(ShareLink.code == values["share_code"])
        )
    if sharer is None or sharer.status != SharerStatus.ACTIVE:
        return None
    if sharer.store_id is None and sharer.parent is not None:
        return sharer.parent.store_id
    return sharer.store_id


def _decide(order: Order, customer_is_new: bool) -> dict:
    """The attribution row's values for an order.

    The customer's active binding decides (it already applied the binding policy to every
    touch); a share code on the order that names no link attributes nothing. The binding is
    adopted by the customer so later orders from another device still count. What decided,
    and every competing touch, is frozen as facts; ``explain`` words them for the reader.
    """
    rules = settings()
    now = order.created_at
    bindings = active_bindings(
        order.visitor_id, None if customer_is_new else order.customer_id, now
    )
    winner: Binding | None = bindings[0] if bindings else None
    since = now - timedelta(days=rules.validity_days) if rules.validity_days else None
    touches = _touches(order, since) if winner is not None else []
    facts: dict = {"policy": rules.binding_policy}
    invite = _live_invite(order)
    link_id = winner.link_id if winner else None
    if invite is not None and (winner is None or winner.sharer_id != invite.sharer_id):
        if rules.live_invite_outranks_binding or winner is None:
            facts["live_invite"] = invite.sharer.name
            if winner is not None:
                facts["outranked"] = winner.sharer.name
            winner, link_id = _InviteWinner(invite, now), invite.id
        else:
            facts["live_invite_kept_binding"] = invite.sharer.name
    sharer = winner.sharer if winner else None
    if winner is None:
        forged = (
            order.share_code
            and db.session.scalar(select(ShareLink.id).where(ShareLink.code == order.share_code))
            is None
        )
        rule = AttributionRule.FORGED_CODE if forged else AttributionRule.NO_TOUCH
    else:
        rule = AttributionRule.LIVE_INVITE if "live_invite" in facts else rules.binding_policy
        facts.update(
            winner=winner.sharer.name,
            bound_at=_iso(winner.bound_at),
            touched_at=_iso(winner.touched_at),
            protected_until=_iso(winner.protected_until),
        )
        if sharer.status != SharerStatus.ACTIVE:
            rule, sharer = AttributionRule.SHARER_INACTIVE, None
        elif _is_self_purchase(sharer, order) and not rules.self_purchase_earns:
            rule, sharer = AttributionRule.SELF_PURCHASE, None
        if winner.customer_id is None:
            winner.customer_id = order.customer_id
            announce_guide_change(
                order.customer_id, None, winner.sharer_id, GuideChange.BOUND, order.created_at
            )
    parent = sharer.parent if sharer is not None and rules.depth >= 2 else None
    if parent is not None and parent.status != SharerStatus.ACTIVE:
        parent = None
    if parent is not None and _is_self_purchase(parent, order) and not rules.self_purchase_earns:
        # The recruiter bought through their own recruit's link: still a self-purchase.
        facts["parent_self_purchase"] = parent.name
        parent = None
    if parent is not None:
        facts["parent"] = parent.name
    return {
        "order_id": order.id,
        "store_id": (
            sharer.store_id
            if sharer and sharer.store_id
            else (parent.store_id if parent and parent.store_id else order.store_id)
        ),
        "sharer_id": sharer.id if sharer else None,
        "parent_sharer_id": parent.id if parent else None,
        "link_id": link_id if winner and sharer else None,
        "live_session_id": order.live_session_id,
        "rule": rule,
        "facts": facts,
        "touches": [
            {
                "sharer": t.sharer.name,
                "sharer_id": t.sharer_id,
                "link": t.link.code,
                "at": _iso(t.created_at),
            }
            for t in touches
        ],
        "decided_at": now,
    }


def _live_invite(order: Order) -> ShareLink | None:
    """The invite link to the order's live session that the buyer came through, if any."""
    if order.live_session_id is None or not order.share_code:
        return None
    return db.session.scalar(
        select(ShareLink).where(
            ShareLink.code == order.share_code,
            ShareLink.target_type == LinkTarget.LIVE,
            ShareLink.target_id == order.live_session_id,
        )
    )


class _InviteWinner:
    """A live invite that decides an order as a binding would (see ``_decide``)."""

    def __init__(self, link: ShareLink, now: datetime):
        self.sharer, self.sharer_id, self.link_id = link.sharer, link.sharer_id, link.id
        self.bound_at = self.touched_at = now
        self.protected_until = None
        self.customer_id = True  # nothing for the customer to adopt


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def explain(attribution: Attribution) -> str:
    """The decision in plain words, in the reader's language."""
    facts = attribution.facts or {}
    name = facts.get("winner", "")
    if attribution.rule == AttributionRule.NO_TOUCH:
        return _("No share link was opened before this order; no one is credited.")
    if attribution.rule == AttributionRule.FORGED_CODE:
        return _("The share code on this order matches no link; no one is credited.")
    if attribution.rule == AttributionRule.SELF_PURCHASE:
        return _("%(name)s bought for themselves: self-purchases earn no commission.", name=name)
    if attribution.rule == AttributionRule.SHARER_INACTIVE:
        return _("%(name)s no longer shares for the shop; no one is credited.", name=name)
    if attribution.rule == AttributionRule.LIVE_INVITE:
        text = _("Credited to %(name)s: the buyer came through their live invite.", name=name)
        if facts.get("outranked"):
            text += " " + _(
                "The shop lets a live invite outrank a binding, so %(other)s, to whom the "
                "customer was bound, is not credited.",
                other=facts["outranked"],
            )
        return text + _parent_text(facts)
    ago = format_timedelta(attribution.decided_at - _when(facts.get("touched_at")))
    protected = _when(facts.get("protected_until"))
    others = sorted({t["sharer"] for t in attribution.touches or [] if t["sharer"] != name})
    if attribution.rule == AttributionRule.FIRST_SHARER_PROTECTED and protected:
        text = _(
            "Credited to %(name)s: their link was opened %(ago)s before the order and protects "
            "the customer until %(date)s.",
            name=name,
            ago=ago,
            date=format_date(protected),
        )
        if others:
            text += " " + _("%(names)s's later link did not take over.", names=", ".join(others))
    else:
        text = _(
            "Credited to %(name)s: their link was opened %(ago)s before the order.",
            name=name,
            ago=ago,
        )
        if others:
            text += " " + _(
                "It was the last link opened (also opened: %(names)s).", names=", ".join(others)
            )
    if facts.get("live_invite_kept_binding"):
        text += " " + _(
            "%(inviter)s's live invite did not outrank the binding (the shop's setting).",
            inviter=facts["live_invite_kept_binding"],
        )
    return text + _parent_text(facts)


def _parent_text(facts: dict) -> str:
    if facts.get("parent"):
        return " " + _(
            "%(parent)s recruited them and earns the second level.", parent=facts["parent"]
        )
    if facts.get("parent_self_purchase"):
        return " " + _(
            "%(parent)s recruited them but bought for themselves: no second level.",
            parent=facts["parent_self_purchase"],
        )
    return ""
