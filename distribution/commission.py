"""Commission: rules, the amount a line earns, and the append-only ledger that records it.

Amounts are recomputed from scratch, never patched: a line earns
``rate × (paid − refunded)`` (percent rules) or ``per unit × (units − units refunded)``
(fixed rules), and a refund writes the difference between what the line had earned and what
it earns now. Nothing is capped by the sharer's current balance: a reversal after payout
leaves a negative balance that the next payout nets.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import DateTime, String, and_, cast, exists, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from distribution.models import (
    Attribution,
    Bucket,
    CommissionEntry,
    EntryKind,
    Payout,
    RuleKind,
    Sharer,
)
from distribution.rates import Rate, rate_for, rule_for, rules_in_force
from distribution.sharing import settings
from distribution.topics import CommissionTopic
from shop.errors import ShopError
from shop.extensions import db
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.money import prorate
from shop.orders.models import Order, OrderLine, Refund, RefundLine
from shop.staff import audit


class CommissionError(ShopError):
    """Commission refused the action: a rule that cannot be used, a payout with nothing to pay."""

    code = "commission_refused"


def money_only_refunds(order_id: int | None = None) -> dict[int, int]:
    """``{line_id: amount}`` refunded without items coming back (a partial refund made in the
    Stripe dashboard, spread over the lines), for one order or (``None``) all of them."""
    query = (
        select(RefundLine.order_line_id, func.sum(RefundLine.amount))
        .where(RefundLine.quantity == 0)
        .group_by(RefundLine.order_line_id)
    )
    if order_id is not None:
        query = query.join(Refund, Refund.id == RefundLine.refund_id).where(
            Refund.order_id == order_id
        )
    return dict(db.session.execute(query).all())


def line_commission(rate: Rate, order: Order, line: OrderLine, money_only: int = 0) -> int:
    """What a line earns now at ``rate``: rate × (paid − refunded).

    A percent rate takes its share of the money kept. A fixed rate pays per unit still held;
    when part of the line's money went back without its items (``money_only``), it pays the
    kept share of the line's units instead, so a partial refund made in the Stripe dashboard
    takes back its part of a fixed commission too.
    """
    paid = order.paid_for(line)
    kept = paid - line.refunded_amount
    if rate.kind == RuleKind.FIXED and money_only:
        return prorate(rate.amount(kept, line.quantity), kept, paid)
    return rate.amount(kept, line.quantity - line.refunded_quantity)


def _earners(attribution: Attribution) -> list[tuple[int, Sharer]]:
    earners = []
    if attribution.sharer_id:
        earners.append((1, db.session.get(Sharer, attribution.sharer_id)))
    if attribution.parent_sharer_id and settings().depth >= 2:
        earners.append((2, db.session.get(Sharer, attribution.parent_sharer_id)))
    return earners


def preview(order: Order, attribution: Attribution, at: datetime | None = None) -> list[dict]:
    """What each line of an order earns and why, without writing anything, at the rules in
    force at ``at`` (None: the published ones). What it is owed is at its payment's time."""
    rules = rules_in_force(at)
    money_only = money_only_refunds(order.id) if order.refunded_amount else {}
    rows = []
    for line in order.lines:
        rule, scope = rule_for(line, attribution.store_id, rules)
        for level, sharer in _earners(attribution):
            rate = rate_for(rule, level, sharer, scope)
            rows.append(
                {
                    "line": line,
                    "level": level,
                    "sharer": sharer,
                    "rate": rate,
                    "amount": line_commission(rate, order, line, money_only.get(line.id, 0)),
                }
            )
    return rows


def accrue_commission(order_id: int) -> int:
    """Write pending commission for a paid order, once (entry keys make replays no-ops).
    Does not commit."""
    attribution = db.session.get(Attribution, order_id)
    order = db.session.get(Order, order_id)
    if attribution is None or order is None or not attribution.sharer_id:
        return 0
    entries = []
    for row in preview(order, attribution, at=order.paid_at):
        line, level, rate = row["line"], row["level"], row["rate"]
        key = f"accrue:{line.id}:{level}"
        if db.session.scalar(select(CommissionEntry.id).where(CommissionEntry.entry_key == key)):
            continue
        entries.append(
            CommissionEntry(
                entry_key=key,
                sharer_id=row["sharer"].id,
                order_id=order.id,
                order_line_id=line.id,
                level=level,
                kind=EntryKind.ACCRUE,
                bucket=Bucket.PENDING,
                amount=row["amount"],
                currency=order.currency,
                rule_id=rate.rule_id,
                rate_ppm=rate.rate_ppm,
                per_unit_x100=rate.per_unit_x100,
                note=rate.describe(),
            )
        )
    try:
        with db.session.begin_nested():  # a concurrent run that wrote them first wins here
            db.session.add_all(entries)
    except IntegrityError:
        return 0
    if entries:
        outbox.publish(CommissionTopic.ACCRUED, order.id)
    return len(entries)


def _entry_rate(entry: CommissionEntry) -> Rate:
    kind = RuleKind.PERCENT if entry.rate_ppm is not None else RuleKind.FIXED
    return Rate(entry.rule_id, "", kind, entry.rate_ppm, entry.per_unit_x100)


def line_net(line_id: int, level: int) -> int:
    """The commission a line carries now at a level: accruals less reversals, all buckets."""
    return db.session.scalar(
        select(func.coalesce(func.sum(CommissionEntry.amount), 0)).where(
            CommissionEntry.order_line_id == line_id,
            CommissionEntry.level == level,
            CommissionEntry.kind.in_((EntryKind.ACCRUE, EntryKind.REVERSE)),
        )
    )


def reverse_commission(order_id: int, refund_id: int) -> int:
    """After a refund, bring each line's commission down to rate × (paid − refunded).

    The reversal comes out of the bucket the line's money is in: pending until it is
    settled, settled after (which may go negative after a payout; never silently lost).
    Does not commit.
    """
    order = db.session.get(Order, order_id)
    if order is None:
        return 0
    entries = []
    accruals = list(
        db.session.scalars(
            select(CommissionEntry).where(
                CommissionEntry.order_id == order_id, CommissionEntry.kind == EntryKind.ACCRUE
            )
        )
    )
    lines = {line.id: line for line in order.lines}
    money_only = money_only_refunds(order.id)
    for accrual in accruals:
        line = lines[accrual.order_line_id]
        key = f"reverse:{refund_id}:{line.id}:{accrual.level}"
        if db.session.scalar(select(CommissionEntry.id).where(CommissionEntry.entry_key == key)):
            continue
        target = line_commission(_entry_rate(accrual), order, line, money_only.get(line.id, 0))
        delta = target - line_net(line.id, accrual.level)
        if delta == 0:
            continue
        settled = db.session.scalar(
            select(CommissionEntry.id).where(
                CommissionEntry.entry_key == f"settle-out:{line.id}:{accrual.level}"
            )
        )
        entries.append(
            CommissionEntry(
                entry_key=key,
                sharer_id=accrual.sharer_id,
                order_id=order.id,
                order_line_id=line.id,
                level=accrual.level,
                kind=EntryKind.REVERSE,
                bucket=Bucket.SETTLED if settled else Bucket.PENDING,
                amount=delta,
                currency=accrual.currency,
                rule_id=accrual.rule_id,
                rate_ppm=accrual.rate_ppm,
                per_unit_x100=accrual.per_unit_x100,
                refund_id=refund_id,
                note=_("Refund %(id)s", id=refund_id),
            )
        )
    try:
        with db.session.begin_nested():  # a concurrent run that wrote them first wins here
            db.session.add_all(entries)
    except IntegrityError:
        return 0
    if entries:
        outbox.publish(CommissionTopic.REVERSED, order.id, refund_id)
    return len(entries)


def settle_due_commissions(now=None) -> int:
    """Move pending commission of orders past the return window to settled. Set-based. Does
    not commit.

    One transaction, two INSERT ... SELECT. The first takes each due line's pending sum out of
    pending: a settle-out entry per line and level, whose key makes a second (or concurrent)
    run write nothing. The second puts what this run took out into settled: one settle-in
    entry per sharer, level and currency, keyed by the run's first settle-out entry, so a
    settlement writes one row per line and level rather than two. Whether a line is settled
    is told by its settle-out entry. Returns the number of (line, level) pairs settled.
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=settings().return_window_days)
    e = CommissionEntry
    key_suffix = cast(e.order_line_id, String) + literal(":") + cast(e.level, String)
    already = aliased(CommissionEntry)
    due = (
        select(
            literal("settle-out:") + key_suffix,
            e.sharer_id,
            e.order_id,
            e.order_line_id,
            e.level,
            literal(EntryKind.SETTLE, String),
            literal(Bucket.PENDING, String),
            -func.sum(e.amount),
            e.currency,
            literal(now, DateTime),
        )
        .join(Order, Order.id == e.order_id)
        .where(
            e.bucket == Bucket.PENDING,
            Order.paid_at <= cutoff,
            ~exists().where(
                and_(
                    already.order_line_id == e.order_line_id,
                    already.level == e.level,
                    already.kind == EntryKind.SETTLE,
                )
            ),
        )
        .group_by(e.sharer_id, e.order_id, e.order_line_id, e.level, e.currency)
        .having(func.sum(e.amount) != 0)
    )
    out_columns = [
        "entry_key",
        "sharer_id",
        "order_id",
        "order_line_id",
        "level",
        "kind",
        "bucket",
        "amount",
        "currency",
        "created_at",
    ]
    table = CommissionEntry.__table__
    try:
        with db.session.begin_nested():  # a concurrent run that settled first wins
            # This run's settle-out entries are the ones written after the newest entry now.
            newest = db.session.scalar(select(func.coalesce(func.max(e.id), 0)))
            this_run = and_(
                e.id > newest,
                e.kind == EntryKind.SETTLE,
                e.bucket == Bucket.PENDING,
                e.created_at == now,
            )
            db.session.execute(table.insert().from_select(out_columns, due))
            # psycopg reports no rowcount for INSERT ... SELECT: count the rows instead.
            moved = db.session.scalar(select(func.count(e.id)).where(this_run))
            back_in = (
                select(
                    literal("settle-in:")
                    + cast(e.sharer_id, String)
                    + literal(":")
                    + cast(e.level, String)
                    + literal(":")
                    + cast(func.min(e.id), String),
                    e.sharer_id,
                    e.level,
                    literal(EntryKind.SETTLE, String),
                    literal(Bucket.SETTLED, String),
                    -func.sum(e.amount),
                    e.currency,
                    literal(now, DateTime),
                )
                .where(this_run)
                .group_by(e.sharer_id, e.level, e.currency)
            )
            in_columns = [
                "entry_key",
                "sharer_id",
                "level",
                "kind",
                "bucket",
                "amount",
                "currency",
                "created_at",
            ]
            db.session.execute(table.insert().from_select(in_columns, back_in))
            settled_orders = db.session.scalars(select(e.order_id).where(this_run).distinct())
            outbox.publish_many(
                CommissionTopic.SETTLED, [(order_id,) for order_id in settled_orders]
            )
    except IntegrityError:
        return 0
    return moved


def balances(sharer_id: int) -> dict[str, int]:
    rows = db.session.execute(
        select(CommissionEntry.bucket, func.sum(CommissionEntry.amount))
        .where(CommissionEntry.sharer_id == sharer_id)
        .group_by(CommissionEntry.bucket)
    ).all()
    result = dict.fromkeys(Bucket, 0)
    result.update({bucket: int(total or 0) for bucket, total in rows})
    return result


def approve_payout(sharer_id: int, staff, currency: str) -> Payout:
    """Pay out a sharer's settled balance (negative balances carried from reversals net in).
    Does not commit."""
    # The row lock serialises payouts of one sharer on PostgreSQL (SQLite serialises writers).
    sharer = db.session.scalar(select(Sharer).where(Sharer.id == sharer_id).with_for_update())
    if sharer is None:
        raise CommissionError(_("Unknown sharer."))
    amount = balances(sharer_id)[Bucket.SETTLED]
    if amount <= 0:
        raise CommissionError(_("%(name)s has nothing settled to pay out.", name=sharer.name))
    payout = Payout(
        sharer_id=sharer_id,
        amount=amount,
        currency=currency,
        approved_by=getattr(staff, "id", None),
    )
    db.session.add(payout)
    db.session.flush()
    for bucket, sign in ((Bucket.SETTLED, -1), (Bucket.PAID, 1)):
        db.session.add(
            CommissionEntry(
                entry_key=f"payout:{payout.id}:{bucket}",
                sharer_id=sharer_id,
                kind=EntryKind.PAYOUT,
                bucket=bucket,
                amount=sign * amount,
                currency=currency,
                payout_id=payout.id,
                note=_("Payout %(id)s", id=payout.id),
            )
        )
    audit.record(
        staff,
        "commission.payout",
        payout,
        object_type="Payout",
        after={"sharer_id": sharer_id, "amount": amount},
        store_id=sharer.store_id,
    )
    outbox.publish(CommissionTopic.PAYOUT_PAID, payout.id)
    return payout


def verify_ledger() -> list[str]:
    """Every invariant of the commission ledger; returns one line per breach."""
    breaches: list[str] = []
    e = CommissionEntry
    for key, total in db.session.execute(
        select(e.kind, func.sum(e.amount))
        .where(e.kind.in_((EntryKind.SETTLE, EntryKind.PAYOUT)))
        .group_by(e.kind)
    ).all():
        if total:
            breaches.append(f"{key} entries do not balance: they sum to {total}")
    pending = db.session.execute(
        select(e.order_line_id, e.level, func.sum(e.amount))
        .where(e.bucket == Bucket.PENDING)
        .group_by(e.order_line_id, e.level)
        .having(func.sum(e.amount) < 0)
    ).all()
    for line_id, level, total in pending:
        breaches.append(f"line {line_id} level {level}: pending commission is {total}")
    paid_by_payout = dict(
        db.session.execute(
            select(e.payout_id, func.sum(e.amount))
            .where(e.payout_id.is_not(None), e.bucket == Bucket.PAID)
            .group_by(e.payout_id)
        ).all()
    )
    for payout in db.session.scalars(select(Payout)):
        paid = paid_by_payout.get(payout.id)
        if paid != payout.amount:
            breaches.append(f"payout {payout.id}: amount {payout.amount} but entries say {paid}")
    # A handful of queries whatever the ledger's size (not three per accrual).
    accrued = select(e.order_line_id).where(e.kind == EntryKind.ACCRUE)
    lines = {
        line.id: line
        for line in db.session.scalars(select(OrderLine).where(OrderLine.id.in_(accrued)))
    }
    orders = {
        order.id: order
        for order in db.session.scalars(
            select(Order).where(
                Order.id.in_(select(OrderLine.order_id).where(OrderLine.id.in_(accrued)))
            )
        )
    }
    nets = {
        (line_id, level): total
        for line_id, level, total in db.session.execute(
            select(e.order_line_id, e.level, func.sum(e.amount))
            .where(e.kind.in_((EntryKind.ACCRUE, EntryKind.REVERSE)))
            .group_by(e.order_line_id, e.level)
        )
    }
    money_only = money_only_refunds()
    for accrual in db.session.scalars(select(e).where(e.kind == EntryKind.ACCRUE).order_by(e.id)):
        line = lines[accrual.order_line_id]
        order = orders[line.order_id]
        expected = line_commission(_entry_rate(accrual), order, line, money_only.get(line.id, 0))
        actual = nets[(line.id, accrual.level)]
        if expected != actual:
            breaches.append(
                f"line {line.id} level {accrual.level}: commission {actual}, "
                f"rate × (paid − refunded) gives {expected}"
            )
    return breaches
