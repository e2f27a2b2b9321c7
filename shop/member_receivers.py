"""Members, points and coupons listen to the shop's order events (connected once, in
``create_app``). The work is done by jobs in ``shop.jobs``, each idempotent per order."""

from __future__ import annotations

from flask import has_request_context, session

from . import referrals
from .extensions import db
from .models import Order
from .queue import enqueue
from .signals import order_paid, order_placed, order_refunded


def _on_placed(_app, order_id: int, **_):
    """A new customer's first order from a browser that opened a referral link: link them.

    The referrer is kept in the session by ``/r/<code>``, and checkout announces the order
    inside its request, so the session is the browser's that placed it.
    """
    order = db.session.get(Order, order_id)
    if order is None:
        return
    referrals.note_device(order.customer_id, order.visitor_id)
    if has_request_context() and session.get("referrer_id"):
        referrals.link_referrer(order.customer_id, session["referrer_id"])


def _on_paid(_app, order_id: int, **_):
    enqueue("shop.jobs.earn_points", order_id)
    enqueue("shop.jobs.reward_referral", order_id)
    enqueue("shop.jobs.evaluate_tiers", order_id)


def _on_refunded(_app, order_id: int, refund_id: int | None = None, **_):
    if refund_id is not None:
        enqueue("shop.jobs.points_after_refund", order_id, refund_id)
    enqueue("shop.jobs.evaluate_tiers", order_id)


def connect() -> None:
    """Connect once per process (blinker keeps receivers weakly unless told otherwise)."""
    order_placed.connect(_on_placed, weak=False)
    order_paid.connect(_on_paid, weak=False)
    order_refunded.connect(_on_refunded, weak=False)
