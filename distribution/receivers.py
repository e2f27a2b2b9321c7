"""Distribution listens to the shop's order events. Each receiver is idempotent per order."""

from __future__ import annotations

from shop.queue import enqueue
from shop.signals import order_paid, order_placed, order_refunded


def _on_placed(_app, order_id: int, **_):
    from .attribution import attribute_order

    attribute_order(order_id)


def _on_paid(_app, order_id: int, **_):
    enqueue("distribution.jobs.accrue_commission", order_id)
    enqueue("distribution.jobs.evaluate_levels", order_id)


def _on_refunded(_app, order_id: int, refund_id: int | None = None, **_):
    if refund_id is not None:
        enqueue("distribution.jobs.reverse_commission", order_id, refund_id)


def connect() -> None:
    """Connect once per process (blinker keeps receivers weakly unless told otherwise)."""
    order_placed.connect(_on_placed, weak=False)
    order_paid.connect(_on_paid, weak=False)
    order_refunded.connect(_on_refunded, weak=False)
