"""Distribution acts on the shop's order events.

An order is attributed inside the transaction that places it (``order_placing``, sent once per
order), so the attribution commits with the order. Should that fail, ``place_order`` logs it
and places the order without it; the accrual job attributes the order when it is paid. What a
paid or refunded order owes distribution (commission accrued or reversed, levels) is
subscribed to the outbox (``shop.orders.topics``), delivered by ``distribution.jobs``, each
idempotent per order.
"""

from __future__ import annotations

from shop.hooks import register_handler
from shop.orders.topics import OrderTopic
from shop.signals import order_placing


def _on_placing(_app, order, customer_is_new: bool, **_):
    from distribution.attribution import attribute_placed_order

    attribute_placed_order(order, customer_is_new)


def init_app(app) -> None:
    register_handler(app, OrderTopic.PAID, "distribution.jobs.accrue_commission")
    register_handler(app, OrderTopic.PAID, "distribution.jobs.evaluate_levels")
    register_handler(app, OrderTopic.REFUNDED, "distribution.jobs.reverse_commission")
    order_placing.connect(_on_placing, weak=False)
