"""Share links, visits and bindings: what happens when someone opens ``/s/<code>``.

``/s/<code>`` has one route (``distribution.views.open_share_link``), which owns the unit of
work; ``open_code`` records the opening in it and never commits. On PostgreSQL a new
visitor's opening is one statement: it finds the link with everything the redirect needs and
inserts the visit and the binding (``_open_for_new_visitor``), and being one statement it is
its own transaction (autocommit: no BEGIN and COMMIT round trips). Other openings (a returning
visitor, a signed-in customer, SQLite) find the link, insert the visit and binding rows and
apply the binding policy in Python. Where the time goes is in bench/README.md.

Nothing about a link is kept between openings: its lookup rides in the opening's own
statement, so keeping it would save little, and a guide who leaves, a product taken down or
changed settings count from the next opening on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import NamedTuple

from flask import url_for
from sqlalchemy import (
    DateTime,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
)

from distribution.models import (
    Binding,
    BindingPolicy,
    BindingState,
    Channel,
    DistributionSettings,
    LinkTarget,
    ShareLink,
    Sharer,
    SharerStatus,
    Visit,
)
from distribution.topics import BindingTopic, GuideChange
from shop.catalog.models import Category, Product
from shop.extensions import db
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.members.models import CouponTemplate

# Visits and bindings of an opening are inserted as table rows, without ORM objects.
_VISITS = Visit.__table__
_BINDINGS = Binding.__table__


def settings() -> DistributionSettings:
    """The programme settings (the single row, created with defaults when missing)."""
    row = db.session.scalar(select(DistributionSettings).order_by(DistributionSettings.id))
    if row is None:
        row = DistributionSettings()
        db.session.add(row)
        db.session.flush()
    return row


def link_for(
    sharer: Sharer, target_type: str, target_id: int = 0, channel: str = Channel.ANY
) -> ShareLink:
    """The sharer's link to a target on a channel, made on first use (one per combination)."""
    if not LinkTarget.has(target_type):
        raise ValueError(f"unknown share target {target_type!r}")
    channel = channel if Channel.has(channel) else Channel.OTHER
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


def _valid_code(code: str) -> bool:
    return bool(code) and len(code) <= 16 and code.isalnum()


def find_link(code: str) -> ShareLink | None:
    if not _valid_code(code):
        return None
    return db.session.scalar(select(ShareLink).where(ShareLink.code == code))


def _constant(value: str):
    """A string written into the statement itself: fewer parameters to send on every open."""
    return literal_column("'" + value.replace("'", "''") + "'", String)


@cache
def _opening_query(key: str):
    """The link whose ``key`` column equals :key, with what opening it needs: its sharer's
    status, its live target's slug or id, and the binding rules (the first settings row; None
    when there is none yet). Built once, on the tables (no ORM entities): making a statement,
    and loading through the ORM, cost more than running it."""
    link, sharer = ShareLink.__table__.c, Sharer.__table__.c
    product, category = Product.__table__, Category.__table__
    coupon = CouponTemplate.__table__
    settings_table = DistributionSettings.__table__
    first = select(func.min(settings_table.c.id)).scalar_subquery()
    rules = select(settings_table).where(settings_table.c.id == first).subquery()
    return (
        select(
            link.id,
            link.sharer_id,
            link.channel,
            sharer.status.label("sharer_status"),
            product.c.slug.label("product_slug"),
            category.c.slug.label("category_slug"),
            coupon.c.id.label("coupon_id"),
            case(
                (link.target_type == _constant(LinkTarget.LIVE), link.target_id),
            ).label("live_session_id"),
            rules.c.binding_policy,
            rules.c.protection_days,
            rules.c.validity_days,
        )
        .select_from(ShareLink.__table__)
        .join(Sharer.__table__, sharer.id == link.sharer_id)
        .outerjoin(
            product,
            and_(
                link.target_type == _constant(LinkTarget.PRODUCT),
                product.c.id == link.target_id,
                product.c.active.is_(True),
            ),
        )
        .outerjoin(
            category,
            and_(
                link.target_type == _constant(LinkTarget.CATEGORY),
                category.c.id == link.target_id,
            ),
        )
        .outerjoin(
            coupon,
            and_(link.target_type == _constant(LinkTarget.COUPON), coupon.c.id == link.target_id),
        )
        .outerjoin(rules, true())
        .where(link[key] == bindparam("key"))
    )


def _opening(key: str, value):
    return db.session.execute(_opening_query(key), {"key": value}).one_or_none()


class Opening(NamedTuple):
    """What ``_open_for_new_visitor`` returns: where the link leads (``_path``), and whether
    its sharer is active while the settings row is missing (so no binding was made)."""

    id: int
    sharer_id: int
    product_slug: str | None
    category_slug: str | None
    coupon_id: int | None
    live_session_id: int | None
    unbound: bool


@cache
def _new_visitor_statement(dialect) -> str:
    """PostgreSQL's one statement for a new visitor's opening: the opening query as a CTE,
    the visit inserted from it, and the binding (a new visitor holds none, so the policy has
    nothing to weigh) inserted when the sharer is active and the settings row exists. Returns
    one ``Opening`` row (none for an unknown code). Its parameters are the code, the visitor
    id and the time (as ISO text: psycopg dumps a string faster than a datetime). Compiled
    once, and sent as driver SQL: SQLAlchemy compiles nothing per opening.
    """
    opening = _opening_query("code").cte("opening")
    now = cast(bindparam("now", type_=String), DateTime)
    visitor = bindparam("visitor_id", type_=String)
    day = literal_column("interval '1 day'")
    active = opening.c.sharer_status == _constant(SharerStatus.ACTIVE)
    visit = (
        _VISITS.insert()
        .from_select(
            ["link_id", "sharer_id", "visitor_id", "customer_id", "channel", "created_at"],
            select(opening.c.id, opening.c.sharer_id, visitor, null(), opening.c.channel, now),
            include_defaults=False,
        )
        .cte("visit")
    )
    binding = (
        _BINDINGS.insert()
        .from_select(
            [
                "visitor_id",
                "customer_id",
                "sharer_id",
                "link_id",
                "bound_at",
                "touched_at",
                "protected_until",
                "valid_until",
                "active",
                "ended_reason",
            ],
            select(
                visitor,
                null(),
                opening.c.sharer_id,
                opening.c.id,
                now,
                now,
                now + opening.c.protection_days * day,
                case(
                    (
                        opening.c.validity_days != literal_column("0"),
                        now + opening.c.validity_days * day,
                    )
                ),
                true(),
                _constant(""),
            ).where(active, opening.c.binding_policy.is_not(None)),
            include_defaults=False,
        )
        .cte("binding")
    )
    statement = select(
        opening.c.id,
        opening.c.sharer_id,
        opening.c.product_slug,
        opening.c.category_slug,
        opening.c.coupon_id,
        opening.c.live_session_id,
        and_(active, opening.c.binding_policy.is_(None)).label("unbound"),
    ).add_cte(visit, binding)
    compiled = statement.compile(dialect=dialect)
    assert set(compiled.params) == {"key", "visitor_id", "now"}, compiled.params
    return compiled.string


def _open_for_new_visitor(code: str, visitor_id: str, now: datetime) -> Opening | None:
    """Record a new visitor's opening on PostgreSQL with one statement, which is its own
    transaction (see the module's doc): it commits as it runs, on a connection in autocommit,
    so no BEGIN and no COMMIT go to the database, and the session is not involved."""
    statement = _new_visitor_statement(db.engine.dialect)
    params = {"key": code, "visitor_id": visitor_id, "now": now.isoformat(" ")}
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        row = connection.exec_driver_sql(statement, params).one_or_none()
    if row is None:
        return None
    opening = Opening._make(row)
    if opening.unbound:
        # No settings row yet (a fresh shop): make it with its defaults and bind as usual.
        _bind(visitor_id, None, opening.sharer_id, opening.id, now, settings())
    return opening


def _path(opening) -> str:
    """Where a link leads: always a path inside the shop (never another host)."""
    if opening is not None:
        if opening.product_slug:
            return url_for("shop.product", slug=opening.product_slug)
        if opening.category_slug:
            return url_for("shop.category", slug=opening.category_slug)
        if opening.coupon_id is not None:
            return url_for("account.coupon", template_id=opening.coupon_id)
        if opening.live_session_id is not None:
            return url_for("live.enter", session_id=opening.live_session_id)
    return url_for("shop.home")


def open_code(
    code: str, visitor_id: str, customer_id: int | None = None, new_visitor: bool = False
) -> str | None:
    """``/s/<code>``: record the visit and apply the binding, then say where the link leads.
    Does not commit (the view owns the unit of work), except the one statement below.

    Returns None for an unknown or malformed code (nothing is recorded). ``new_visitor``: the
    visitor id was made for this request, so no binding can hold it yet: nothing is looked up
    to weigh the policy against. On PostgreSQL such an opening (by no signed-in customer) is
    one statement, committed as it runs; elsewhere, and for returning visitors, the link is
    looked up and the rows written after it.
    """
    if not _valid_code(code):
        return None
    now = utcnow()
    if new_visitor and not customer_id and db.engine.dialect.name == "postgresql":
        opening = _open_for_new_visitor(code, visitor_id, now)
    else:
        opening = _opening("code", code)
        if opening is not None:
            _record(opening, visitor_id, customer_id, now, new_visitor)
    return None if opening is None else _path(opening)


def open_link(
    link: ShareLink, visitor_id: str, customer_id: int | None = None, now: datetime | None = None
) -> None:
    """Record the visit and create or refresh the binding it implies, as its own unit of work
    (for the demo data and tests, which open links outside a request)."""
    with unit_of_work():
        _record(_opening("id", link.id), visitor_id, customer_id, now or utcnow(), False)


def _record(opening, visitor_id: str, customer_id: int | None, now: datetime, new_visitor: bool):
    """Insert the visit and apply the binding policy. Does not commit."""
    db.session.execute(
        _VISITS.insert(),
        {
            "link_id": opening.id,
            "sharer_id": opening.sharer_id,
            "visitor_id": visitor_id,
            "customer_id": customer_id,
            "channel": opening.channel,
            "created_at": now,
        },
    )
    if opening.sharer_status == SharerStatus.ACTIVE:
        rules = opening if opening.binding_policy is not None else settings()
        current = [] if new_visitor and not customer_id else None
        touch(opening.sharer_id, opening.id, visitor_id, customer_id, now, rules, current)


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
    sharer_id: int,
    link_id: int | None,
    visitor_id: str | None,
    customer_id: int | None,
    now: datetime,
    rules,
    current: list[Binding] | None = None,
) -> None:
    """Apply the binding policy to one touch (a link opened, an in-store scan).

    first-sharer-protected: while the current binding is protected, another sharer's touch
    changes nothing; the same sharer's touch refreshes it. last-click: the newest touch wins.
    ``rules`` has the settings' binding_policy, protection_days and validity_days; ``current``
    the active bindings when the caller knows them (a new visitor has none).
    """
    if current is None:
        current = active_bindings(visitor_id, customer_id, now)
    holder = current[0] if current else None
    if holder is not None and holder.sharer_id == sharer_id:
        holder.touched_at = now
        holder.protected_until, holder.valid_until = periods(rules, now)
        if link_id is not None:
            holder.link_id = link_id
        return
    if (
        holder is not None
        and rules.binding_policy == BindingPolicy.FIRST_SHARER_PROTECTED
        and holder.protected_until
        and holder.protected_until > now
    ):
        return
    for old in current:
        old.active = False
        old.ended_reason = BindingState.REPLACED
    _bind(visitor_id, customer_id, sharer_id, link_id, now, rules)
    if customer_id:
        announce_guide_change(
            customer_id,
            holder.sharer_id if holder is not None else None,
            sharer_id,
            GuideChange.REPLACED if holder is not None else GuideChange.BOUND,
            now,
        )


def announce_guide_change(
    customer_id: int, previous: int | None, sharer_id: int, how: GuideChange, at: datetime
) -> None:
    """Publish ``customer.guide_changed`` in the transaction that binds a known customer to
    another sharer. Does not commit."""
    outbox.publish(
        BindingTopic.GUIDE_CHANGED, customer_id, previous, sharer_id, str(how), at.isoformat()
    )


def periods(rules, now: datetime) -> tuple[datetime, datetime | None]:
    """Until when a touch now protects the binding, and until when it is valid (None: ever)."""
    protected_until = now + timedelta(days=rules.protection_days)
    return protected_until, (
        now + timedelta(days=rules.validity_days) if rules.validity_days else None
    )


def _bind(
    visitor_id: str | None,
    customer_id: int | None,
    sharer_id: int,
    link_id: int | None,
    now: datetime,
    rules,
) -> None:
    protected_until, valid_until = periods(rules, now)
    db.session.execute(
        _BINDINGS.insert(),
        {
            "visitor_id": visitor_id,
            "customer_id": customer_id,
            "sharer_id": sharer_id,
            "link_id": link_id,
            "bound_at": now,
            "touched_at": now,
            "protected_until": protected_until,
            "valid_until": valid_until,
            "active": True,
            "ended_reason": "",
        },
    )
