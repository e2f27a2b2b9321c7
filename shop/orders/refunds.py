"""What a refund returns: per line for a refund of items, spread over the lines and shipping
for one that names no items. Computation only: ``services.refund`` and
``services.record_external_refund`` write what it decides."""

from __future__ import annotations

from flask_babel import gettext as _

from shop.errors import InvalidInput
from shop.money import allocate, prorate
from shop.orders.models import Order, Refund, RefundLine


def refund_amounts(order: Order, quantities: dict[int, int]) -> tuple[int, dict[int, int]]:
    """What refunding ``{line_id: quantity}`` returns, per line and in all.

    A line's paid amount is its total less its share of the order discount. The refund that
    empties the whole order returns exactly what is left (shipping and rounding included), so
    the refunds of an order always add up to its total.
    """
    lines = {line.id: line for line in order.lines}
    per_line: dict[int, int] = {}
    for line_id, quantity in quantities.items():
        line = lines.get(line_id)
        if line is None:
            raise InvalidInput(_("That line is not part of this order."))
        if quantity < 0 or quantity > line.quantity - line.refunded_quantity:
            raise InvalidInput(
                _(
                    "%(name)s: at most %(n)d can still be refunded.",
                    name=line.product_name,
                    n=line.quantity - line.refunded_quantity,
                )
            )
        if quantity == 0:
            continue
        left = order.paid_for(line) - line.refunded_amount
        # A share of what is left of the line, so a money-only refund made before (in the
        # Stripe dashboard) is never refunded twice.
        per_line[line_id] = prorate(left, quantity, line.quantity - line.refunded_quantity)
    if not per_line:
        raise InvalidInput(_("Choose at least one item to refund."))
    empties_order = all(
        line.refunded_quantity + quantities.get(line.id, 0) == line.quantity for line in order.lines
    )
    total = order.total - order.refunded_amount if empties_order else sum(per_line.values())
    return total, per_line


def allocate_money_only(order: Order, record: Refund, amount: int) -> None:
    """A partial refund that names no items (made in the Stripe dashboard): its money is
    spread over what is left of each line and of shipping, in proportion, so commission and
    points follow it. No item comes back: refund lines of quantity 0, nothing restocked."""
    left = [order.paid_for(line) - line.refunded_amount for line in order.lines]
    before = order.refunded_amount - amount
    shipping_left = max(0, order.total - before - sum(left))
    shares = allocate(amount, [*left, shipping_left])
    for line, share in zip(order.lines, shares, strict=False):
        if share:
            line.refunded_amount += share
            record.lines.append(RefundLine(order_line_id=line.id, quantity=0, amount=share))
