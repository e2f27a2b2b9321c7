"""Members, points and coupons act on the shop's order events.

Inside the transaction that places an order (``order_placing``) they add rows that commit with
it. What a paid or refunded order owes them (points, the referrer's reward, tier progress) is
subscribed to the outbox (``shop.orders.topics``): written with the change, delivered after
commit by the jobs in ``shop.members.jobs``, each idempotent per order.
"""

from __future__ import annotations

from flask import has_request_context, session

from shop.hooks import register_handler
from shop.members import referrals
from shop.orders.topics import OrderTopic
from shop.signals import order_placing


def _on_placing(_app, order, **_):
    """Inside the transaction that places the order: remember the customer's first device, and
    link a new customer whose browser opened a referral link to the friend who sent it.

    The referrer is kept in the session by ``/r/<code>``, and checkout places the order inside
    its request, so the session is the browser's that placed it.
    """
    referrals.note_device(order.customer_id, order.visitor_id)
    if has_request_context() and session.get("referrer_id"):
        referrals.link_referrer(order.customer_id, session["referrer_id"])


def init_app(app) -> None:
    register_handler(app, OrderTopic.PAID, "shop.members.jobs.earn_points")
    register_handler(app, OrderTopic.PAID, "shop.members.jobs.reward_referral")
    register_handler(app, OrderTopic.PAID, "shop.members.jobs.evaluate_tiers")
    register_handler(app, OrderTopic.REFUNDED, "shop.members.jobs.points_after_refund")
    register_handler(app, OrderTopic.REFUNDED, "shop.members.jobs.evaluate_tiers")
    connect()


def connect() -> None:
    """Connect once per process (blinker keeps receivers weakly unless told otherwise)."""
    order_placing.connect(_on_placing, weak=False)
