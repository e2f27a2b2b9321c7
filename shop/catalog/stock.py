"""Stock: reserved by conditional updates, released and restocked with a movement each time.

Stock is only changed by ``UPDATE variants SET stock = stock + :delta WHERE id = :id AND
stock + :delta >= 0`` and the row count is checked, so two buyers of the last unit cannot both
get it on any database (``with_for_update`` takes no lock on SQLite). Variants are always
touched in id order so two multi-line orders on PostgreSQL cannot deadlock. A CHECK constraint
backs the invariant.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, func, insert, select, update

from shop.catalog.models import StockMovement, StockReason, Variant
from shop.catalog.topics import StockTopic
from shop.errors import OutOfStock
from shop.extensions import db
from shop.i18n import variant_name
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.staff import audit

# Built once (every order runs them); plain Core: no ORM object is synchronised or read back.
_VARIANTS = Variant.__table__
_CHANGE = (
    update(_VARIANTS)
    .where(_VARIANTS.c.id == bindparam("variant_id"))
    .values(stock=_VARIANTS.c.stock + bindparam("delta"))
    .returning(_VARIANTS.c.stock)
)
_TAKE = _CHANGE.where(_VARIANTS.c.stock + bindparam("delta") >= 0)
_INSERT_MOVEMENT = insert(StockMovement.__table__)


def change_stock(
    variant_id: int,
    delta: int,
    reason: str,
    *,
    order_id: int | None = None,
    staff_id: int | None = None,
    note: str = "",
) -> int | None:
    """Add ``delta`` (may be negative) to a variant's stock unless it would go below zero.

    Returns the stock left; None, with nothing changed, when there is not enough stock. Does
    not commit.
    """
    left = db.session.scalar(
        _CHANGE if delta >= 0 else _TAKE, {"variant_id": variant_id, "delta": delta}
    )
    if left is None:
        return None
    db.session.execute(
        _INSERT_MOVEMENT,
        {
            "variant_id": variant_id,
            "delta": delta,
            "reason": reason,
            "order_id": order_id,
            "staff_id": staff_id,
            "note": note,
        },
    )
    return left


def adjust(variant: Variant, delta: int, reason: str, staff, note: str | None = None) -> None:
    """Staff change a variant's stock by ``delta`` (reason ``adjust``, or ``initial`` for a new
    variant): a movement and an audit entry in the caller's transaction. Raises ``OutOfStock``
    when that would go below zero; nothing is changed then. Does not commit."""
    left = change_stock(variant.id, delta, reason, staff_id=staff.id, note=(note or "")[:255])
    if left is None:
        there = db.session.scalar(select(Variant.stock).where(Variant.id == variant.id))
        raise OutOfStock(_("Only %(n)d in stock: cannot take away %(d)d.", n=there, d=-delta))
    before = left - delta  # read under the update's row lock
    db.session.expire(variant, ["stock"])
    if delta < 0:
        announce_low_stock(
            {variant.id: -delta}, {variant.id: left}, f"adjust-{utcnow().isoformat()}"
        )
    audit.record(
        staff,
        "variant.stock_adjust",
        variant,
        before={"stock": before},
        after={"stock": before + delta, "delta": delta, "reason": reason, "note": note or ""},
        store_id=variant.product.store_id if variant.product is not None else None,
    )


def announce_low_stock(taken: dict[int, int], left: dict[int, int], cause: str) -> None:
    """Publish ``stock.out`` for each variant that ``taken`` (variant id -> units taken) left
    at zero (``left``: variant id -> stock after) and ``stock.low`` for each it took to
    ``STOCK_LOW_AT`` or below (crossing it, not again while it stays low). Does not commit."""
    low_at = current_app.config.get("STOCK_LOW_AT", 5)
    for variant_id, stock in left.items():
        if stock > low_at:
            continue
        if stock == 0:
            outbox.publish(StockTopic.OUT, variant_id, cause)
        elif stock + taken[variant_id] > low_at:
            outbox.publish(StockTopic.LOW, variant_id, cause)


def reserve(order_id: int, quantities: Iterable[tuple[int, int]]) -> None:
    """Take stock for an order's lines, all or nothing (the caller rolls back on OutOfStock)."""
    quantities = sorted(quantities)
    left = {}
    for variant_id, quantity in quantities:
        left[variant_id] = change_stock(
            variant_id, -quantity, StockReason.RESERVE, order_id=order_id
        )
        if left[variant_id] is None:
            # Fresh from the database: the caller may hold this variant loaded before the race.
            variant = db.session.get(Variant, variant_id, populate_existing=True)
            name = variant_name(variant)
            raise OutOfStock(
                _("Sorry, %(name)s is sold out.", name=name)
                if variant.stock <= 0
                else _("Only %(n)d of %(name)s left.", n=variant.stock, name=name)
            )
    announce_low_stock(dict(quantities), left, f"order-{order_id}")


def release(
    order_id: int, quantities: Iterable[tuple[int, int]], reason: str = StockReason.RELEASE
) -> None:
    for variant_id, quantity in sorted(quantities):
        if quantity > 0:
            change_stock(variant_id, quantity, reason, order_id=order_id)


def ledger_breaches() -> list[str]:
    """Variants whose stock differs from the sum of their movements."""
    totals = dict(
        db.session.execute(
            select(StockMovement.variant_id, func.sum(StockMovement.delta)).group_by(
                StockMovement.variant_id
            )
        ).all()
    )
    breaches = []
    for variant_id, stock in db.session.execute(select(Variant.id, Variant.stock)).all():
        moved = totals.get(variant_id, 0) or 0
        if moved != stock:
            breaches.append(f"variant {variant_id}: stock {stock} but movements sum to {moved}")
    return breaches
