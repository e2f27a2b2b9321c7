"""Paying an order online: its Stripe Checkout Session, created once, and the page to pay on.

Stripe itself is behind ``shop.payments.stripe_gateway``; the webhook that confirms the
payment is ``shop.payments.webhooks``.
"""

from __future__ import annotations

import logging
from datetime import UTC

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import update

from shop.errors import PaymentError
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders.models import Order, OrderStatus
from shop.payments import stripe_gateway
from shop.payments.stripe_gateway import ChargedLine

log = logging.getLogger(__name__)


def checkout_url(order: Order) -> str:
    """Create (once) the Stripe Checkout Session for an order and return its payment page.

    The session expires when the stock reservation does. If the reservation is shorter than
    Stripe's minimum, the reservation is extended to match rather than the other way round,
    but only before the session exists: a later call sends the same parameters with the same
    idempotency key, so Stripe returns the same session (Stripe refuses a key reused with other
    parameters). The key names the expiry, so an extension always comes with a fresh key.
    """
    if order.status != OrderStatus.AWAITING_PAYMENT:
        raise PaymentError(_("This order is no longer awaiting payment."))
    minimum = utcnow() + stripe_gateway.MIN_SESSION_LIFETIME
    if order.stripe_session_id is None and order.expires_at < minimum:
        db.session.execute(
            update(Order)
            .where(Order.id == order.id, Order.status == OrderStatus.AWAITING_PAYMENT)
            .values(expires_at=minimum)
        )
        db.session.commit()
        db.session.refresh(order)
    expires_at = int(order.expires_at.replace(tzinfo=UTC).timestamp())
    order_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for(
        "shop.order", token=order.token
    )
    lines = charged_lines(order)
    if order.shipping:
        lines.append(ChargedLine(_("Delivery"), 1, order.shipping))
    try:
        session = stripe_gateway.create_checkout_session(
            order_id=order.id,
            currency=order.currency,
            lines=lines,
            success_url=order_url + "?paid=1",
            cancel_url=order_url,
            expires_at=expires_at,
            idempotency_key=f"checkout-{order.token}-{expires_at}",
        )
    except stripe_gateway.GatewayError as exc:
        log.warning("Stripe checkout for order %s failed: %s", order.id, exc)
        raise PaymentError(_("Online payment is unavailable right now. Please try again.")) from exc
    if order.stripe_session_id != session.id:
        order.stripe_session_id = session.id
        db.session.commit()
    return session.url


def charged_lines(order: Order) -> list[ChargedLine]:
    """Each line as Stripe charges it: together the order's total less shipping. Stripe takes
    no negative line, so with a discount each line is charged once at its total less its share
    of the discount (the rounding goes to the largest line).
    """
    names = [f"{line.product_name} {line.variant_name}".strip() for line in order.lines]
    if not order.discount:
        return [
            ChargedLine(name, line.quantity, line.unit_price)
            for name, line in zip(names, order.lines, strict=True)
        ]
    amounts = [order.paid_for(line) for line in order.lines]
    largest = amounts.index(max(amounts))
    amounts[largest] += order.subtotal - order.discount - sum(amounts)
    return [
        ChargedLine(f"{name} × {line.quantity}", 1, amount)
        for name, line, amount in zip(names, order.lines, amounts, strict=True)
    ]
