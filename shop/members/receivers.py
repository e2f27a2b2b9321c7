"""Members, points and coupons listen to the shop's order events (connected once, in
``create_app``). After commit, the work is done by jobs in ``shop.orders.jobs``, each idempotent per
order; ``order_placing`` only adds to the placing transaction."""

from __future__ import annotations

from flask import has_request_context, session

from shop.infra.queue import enqueue
from shop.members import referrals
from shop.signals import order_paid, order_placing, order_refunded


def _on_placing(_app, order, **_):
    """Inside the transaction that places the order: remember the customer's first device, and
    link a new customer whose browser opened a referral link to the friend who sent it.

    The referrer is kept in the session by ``/r/<code>``, and checkout places the order inside
    its request, so the session is the browser's that placed it.
    """
    referrals.note_device(order.customer_id, order.visitor_id)
    if has_request_context() and session.get("referrer_id"):
        referrals.link_referrer(order.customer_id, session["referrer_id"])


def _on_paid(_app, order_id: int, **_):
    enqueue("shop.members.jobs.earn_points", order_id)
    enqueue("shop.members.jobs.reward_referral", order_id)
    enqueue("shop.members.jobs.evaluate_tiers", order_id)


def _on_refunded(_app, order_id: int, refund_id: int | None = None, **_):
    if refund_id is not None:
        enqueue("shop.members.jobs.points_after_refund", order_id, refund_id)
    enqueue("shop.members.jobs.evaluate_tiers", order_id)


def connect() -> None:
    """Connect once per process (blinker keeps receivers weakly unless told otherwise)."""
    order_placing.connect(_on_placing, weak=False)
    order_paid.connect(_on_paid, weak=False)
    order_refunded.connect(_on_refunded, weak=False)
