"""Session reports: visits, orders, paid GMV net of refunds (unpaid apart), conversion, per
product, per pin window, per inviter, replay orders apart; and the CSV export.

An order counts as a sale only once paid (``paid_at`` set); its money is what was paid less
what was refunded. Unpaid orders are shown apart and never added to sales. Orders placed after
the session ended are replay orders: credited to the session, reported apart.

Viewer numbers (peak concurrent, unique, new vs returning) are the live room's to count
(``live.room_models``); ``viewer_numbers`` is where the reports read them.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from distribution.models import Attribution, LinkTarget, ShareLink, Sharer, SharerKind, Visit
from live.models import LiveSession, Pin, SessionStatus
from live.tips import session_tips
from shop.extensions import db
from shop.orders.models import Order, OrderStatus


@dataclass
class ViewerNumbers:
    peak: int | None = None
    unique: int | None = None
    new: int | None = None
    returning: int | None = None


def viewer_numbers(session_id: int) -> ViewerNumbers:
    """Peak concurrent and unique viewers (a reload is not a new viewer), new vs returning.

    The live room counts viewers in its own tables (``live.room.viewer_stats``); this is the one
    function that reads them for the reports."""
    from live.room import viewer_stats

    stats = viewer_stats(session_id)
    return ViewerNumbers(
        peak=stats["peak_viewers"],
        unique=stats["unique_viewers"],
        new=stats["new_viewers"],
        returning=stats["returning_viewers"],
    )


@dataclass
class Figures:
    """Orders and money of a group of a session's orders (all, a product, a pin, an inviter)."""

    orders: int = 0
    paid_orders: int = 0
    units: int = 0
    paid_gmv: int = 0  # paid less refunded
    unpaid_orders: int = 0
    unpaid_amount: int = 0
    buyers: set = field(default_factory=set)

    @property
    def paying_buyers(self) -> int:
        return len(self.buyers)


@dataclass
class Row:
    label: str
    figures: Figures
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class SessionReport:
    session: LiveSession
    viewers: ViewerNumbers
    visits: int
    unique_visitors: int
    live: Figures
    replay: Figures
    products: list[Row]
    pins: list[Row]
    inviters: list[Row]
    # Tips for the host (``live.tips.session_tips``): kept apart from sales.
    tips: dict = field(default_factory=dict)

    @property
    def conversion(self) -> float | None:
        """Paying buyers ÷ unique viewers (÷ unique visitors while viewers are not counted)."""
        base = self.viewers.unique if self.viewers.unique is not None else self.unique_visitors
        if not base:
            return None
        return (self.live.paying_buyers + self.replay.paying_buyers) / base

    @property
    def total(self) -> Figures:
        both = Figures()
        for part in (self.live, self.replay):
            for name in ("orders", "paid_orders", "units", "paid_gmv"):
                setattr(both, name, getattr(both, name) + getattr(part, name))
            both.unpaid_orders += part.unpaid_orders
            both.unpaid_amount += part.unpaid_amount
            both.buyers |= part.buyers
        return both


def _add(figures: Figures, order: Order, lines=None) -> None:
    """Count an order (or some of its lines) into ``figures``."""
    lines = order.lines if lines is None else lines
    if order.status == OrderStatus.CANCELLED:
        return
    figures.orders += 1
    if order.paid_at is not None:
        figures.paid_orders += 1
        figures.buyers.add(order.customer_id)
        figures.units += sum(line.quantity - line.refunded_quantity for line in lines)
        if lines is order.lines:
            figures.paid_gmv += order.total - order.refunded_amount
        else:
            figures.paid_gmv += sum(order.paid_for(line) - line.refunded_amount for line in lines)
    else:
        figures.unpaid_orders += 1
        figures.unpaid_amount += (
            order.total if lines is order.lines else sum(order.paid_for(li) for li in lines)
        )


def session_orders(session_id: int) -> list[Order]:
    return db.session.scalars(
        select(Order).where(Order.live_session_id == session_id).order_by(Order.created_at)
    ).all()


def _visits(session_id: int) -> tuple[int, int]:
    row = db.session.execute(
        select(func.count(Visit.id), func.count(func.distinct(Visit.visitor_id)))
        .join(ShareLink, ShareLink.id == Visit.link_id)
        .where(ShareLink.target_type == LinkTarget.LIVE, ShareLink.target_id == session_id)
    ).one()
    return row[0], row[1]


def session_report(session: LiveSession) -> SessionReport:
    orders = session_orders(session.id)
    live, replay = Figures(), Figures()
    products: dict[int, Row] = {}
    for order in orders:
        is_replay = session.ended_at is not None and order.created_at > session.ended_at
        _add(replay if is_replay else live, order)
        for line in order.lines:
            row = products.setdefault(line.product_id, Row(line.product_name, Figures()))
            _add(row.figures, order, [line])
    pins = []
    for pin in db.session.scalars(
        select(Pin).where(Pin.session_id == session.id).order_by(Pin.pinned_at)
    ):
        row = Row(str(pin.shelf_item), Figures(), pin.pinned_at, pin.unpinned_at)
        for order in orders:
            if order.created_at >= pin.pinned_at and (
                pin.unpinned_at is None or order.created_at < pin.unpinned_at
            ):
                _add(row.figures, order)
        pins.append(row)
    visits, unique = _visits(session.id)
    return SessionReport(
        session=session,
        viewers=viewer_numbers(session.id),
        visits=visits,
        unique_visitors=unique,
        live=live,
        replay=replay,
        products=sorted(products.values(), key=lambda r: -r.figures.paid_gmv),
        pins=pins,
        inviters=_inviters(orders),
        tips=session_tips(session.id),
    )


def _inviters(orders: list[Order]) -> list[Row]:
    """Per inviter, as the distribution engine attributed each order ("no inviter" apart)."""
    if not orders:
        return []
    attributed = dict(
        db.session.execute(
            select(Attribution.order_id, Sharer.name)
            .join(Sharer, Sharer.id == Attribution.sharer_id)
            .where(Attribution.order_id.in_([o.id for o in orders]))
        ).all()
    )
    rows: dict[str, Row] = defaultdict(lambda: None)
    for order in orders:
        name = attributed.get(order.id) or _("No inviter")
        if rows[name] is None:
            rows[name] = Row(name, Figures())
        _add(rows[name].figures, order)
    return sorted((r for r in rows.values() if r), key=lambda r: -r.figures.paid_gmv)


def inviter_row(session: LiveSession, sharer: Sharer) -> Figures:
    """What one sharer's invites brought to a session (the workbench's own line)."""
    figures = Figures()
    ids = db.session.scalars(
        select(Attribution.order_id).where(
            Attribution.sharer_id == sharer.id, Attribution.live_session_id == session.id
        )
    ).all()
    for order in db.session.scalars(select(Order).where(Order.id.in_(ids))):
        _add(figures, order)
    return figures


def _open_to_invites():
    """Sessions any guide or promoter may invite to: live, paused or scheduled, or ended with
    a replay to watch."""
    return or_(LiveSession.status != SessionStatus.ENDED, LiveSession.replay_url != "")


def may_see(sharer: Sharer, session: LiveSession) -> bool:
    """A guide sees every session of their store. Chains run sessions across stores, so any
    guide or promoter also sees (and invites to) a session of any store while it is live or
    scheduled (or has a replay), and keeps seeing one they already hold an invite link to."""
    if sharer.kind == SharerKind.GUIDE and sharer.store_id == session.store_id:
        return True
    if session.status != SessionStatus.ENDED or session.replay_url:
        return True
    return (
        db.session.scalar(
            select(ShareLink.id).where(
                ShareLink.sharer_id == sharer.id,
                ShareLink.target_type == LinkTarget.LIVE,
                ShareLink.target_id == session.id,
            )
        )
        is not None
    )


def sessions_for_sharer(sharer: Sharer, limit: int = 30) -> list[LiveSession]:
    """The workbench's sessions: every session of a guide's own store, and those of any store
    open to invites (live, paused, scheduled, or with a replay)."""
    query = select(LiveSession).order_by(LiveSession.id.desc()).limit(limit)
    if sharer.kind == SharerKind.GUIDE and sharer.store_id is not None:
        query = query.where(or_(LiveSession.store_id == sharer.store_id, _open_to_invites()))
    else:
        query = query.where(_open_to_invites())
    return db.session.scalars(query).all()


def csv_export(report: SessionReport) -> str:
    """The report as CSV: one line per figure group (session, live, replay, products, pins,
    inviters), money in minor units."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "section",
            "name",
            "from",
            "until",
            "orders",
            "paid_orders",
            "units",
            "paid_gmv_net",
            "unpaid_orders",
            "unpaid_amount",
            "paying_buyers",
        ]
    )

    def line(section: str, name: str, f: Figures, since=None, until=None):
        writer.writerow(
            [
                section,
                name,
                since.isoformat(timespec="seconds") if since else "",
                until.isoformat(timespec="seconds") if until else "",
                f.orders,
                f.paid_orders,
                f.units,
                f.paid_gmv,
                f.unpaid_orders,
                f.unpaid_amount,
                f.paying_buyers,
            ]
        )

    line("session", report.session.title, report.total)
    line("live", "", report.live)
    line("replay", "", report.replay)
    for row in report.products:
        line("product", row.label, row.figures)
    for row in report.pins:
        line("pin", row.label, row.figures, row.since, row.until)
    for row in report.inviters:
        line("inviter", row.label, row.figures)
    writer.writerow([])
    writer.writerow(["visits", report.visits, "unique_visitors", report.unique_visitors])
    viewers = report.viewers
    writer.writerow(["peak_viewers", viewers.peak, "unique_viewers", viewers.unique])
    conversion = report.conversion
    writer.writerow(["conversion", "" if conversion is None else f"{conversion:.4f}"])
    tips = report.tips
    writer.writerow(
        ["tips_paid", tips.get("paid", 0), "tips_net", tips.get("net", 0)]
        + ["tips_refunded", tips.get("refunded", 0), "tips_refunded_amount"]
        + [tips.get("refunded_amount", 0)]
    )
    return out.getvalue()
