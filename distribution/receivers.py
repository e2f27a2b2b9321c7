"""Distribution listens to the shop's order events.

An order is attributed inside the transaction that places it (``order_placing``, sent once per
order), so the attribution commits with the order. Should that fail, ``place_order`` logs it
and places the order without it; the accrual job attributes the order when it is paid. The
receivers of events sent after commit are idempotent per order.
"""

from __future__ import annotations

from shop.infra.queue import enqueue
from shop.signals import order_paid, order_placing, order_refunded


def _on_placing(_app, order, customer_is_new: bool, **_):
    from distribution.attribution import attribute_placed_order

    attribute_placed_order(order, customer_is_new)


def _on_paid(_app, order_id: int, **_):
    enqueue("distribution.jobs.accrue_commission", order_id)
    enqueue("distribution.jobs.evaluate_levels", order_id)


def _on_refunded(_app, order_id: int, refund_id: int | None = None, **_):
    if refund_id is not None:
        enqueue("distribution.jobs.reverse_commission", order_id, refund_id)


def connect() -> None:
    """Connect once per process (blinker keeps receivers weakly unless told otherwise)."""
    order_placing.connect(_on_placing, weak=False)
    order_paid.connect(_on_paid, weak=False)
    order_refunded.connect(_on_refunded, weak=False)
