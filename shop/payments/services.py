"""Stripe: Checkout sessions, refunds, and the webhook that confirms payments.

The webhook trusts nothing it cannot verify: the signature is checked by Stripe's own library
with a 300 s tolerance; each event id is handled once (its row is inserted in the same
transaction as its effect, so five concurrent deliveries produce one effect); events may come
in any order because every effect is a conditional state transition.
"""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

import stripe
from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shop.errors import PaymentError
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus
from shop.payments.models import StripeEvent

log = logging.getLogger(__name__)

WEBHOOK_TOLERANCE = 300
# Stripe refuses a Checkout Session that expires sooner than 30 minutes after its creation.
STRIPE_MIN_SESSION = timedelta(minutes=30, seconds=30)


def stripe_enabled() -> bool:
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def client() -> stripe.StripeClient:
    ext = current_app.extensions
    if "stripe_client" not in ext:
        base = current_app.config.get("STRIPE_API_BASE")
        ext["stripe_client"] = stripe.StripeClient(
            current_app.config["STRIPE_SECRET_KEY"],
            base_addresses={"api": base} if base else None,
            max_network_retries=2,
        )
    return ext["stripe_client"]


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
    minimum = utcnow() + STRIPE_MIN_SESSION
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
    line_items = [
        {
            "quantity": quantity,
            "price_data": {
                "currency": order.currency.lower(),
                "unit_amount": unit_amount,
                "product_data": {"name": name},
            },
        }
        for name, quantity, unit_amount in charged_lines(order)
    ]
    if order.shipping:
        line_items.append(
            {
                "quantity": 1,
                "price_data": {
                    "currency": order.currency.lower(),
                    "unit_amount": order.shipping,
                    "product_data": {"name": _("Delivery")},
                },
            }
        )
    params = {
        "mode": "payment",
        "line_items": line_items,
        "client_reference_id": str(order.id),
        "metadata": {"order_id": str(order.id)},
        "payment_intent_data": {"metadata": {"order_id": str(order.id)}},
        "success_url": order_url + "?paid=1",
        "cancel_url": order_url,
        "expires_at": expires_at,
    }
    try:
        session = client().v1.checkout.sessions.create(
            params=params, options={"idempotency_key": f"checkout-{order.token}-{expires_at}"}
        )
    except stripe.StripeError as exc:
        log.warning("Stripe checkout for order %s failed: %s", order.id, exc)
        raise PaymentError(_("Online payment is unavailable right now. Please try again.")) from exc
    if order.stripe_session_id != session.id:
        order.stripe_session_id = session.id
        db.session.commit()
    return session.url


def charged_lines(order: Order) -> list[tuple[str, int, int]]:
    """(name, quantity, unit amount) of each line as Stripe charges it: together the order's
    total less shipping. Stripe takes no negative line, so with a discount each line is charged
    once at its total less its share of the discount (the rounding goes to the largest line).
    """
    names = [f"{line.product_name} {line.variant_name}".strip() for line in order.lines]
    if not order.discount:
        return [
            (name, line.quantity, line.unit_price)
            for name, line in zip(names, order.lines, strict=True)
        ]
    amounts = [order.paid_for(line) for line in order.lines]
    largest = amounts.index(max(amounts))
    amounts[largest] += order.subtotal - order.discount - sum(amounts)
    return [
        (f"{name} × {line.quantity}", 1, amount)
        for name, line, amount in zip(names, order.lines, amounts, strict=True)
    ]


def create_refund(order: Order, amount: int, idempotency_key: str) -> str:
    """Refund ``amount`` of the order's Stripe payment; returns the Stripe refund id."""
    try:
        refund = client().v1.refunds.create(
            params={
                "payment_intent": order.stripe_payment_intent,
                "amount": amount,
                "metadata": {"order_id": str(order.id), "siyu_refund": idempotency_key},
            },
            options={"idempotency_key": f"refund-{idempotency_key}"},
        )
    except stripe.StripeError as exc:
        log.warning("Stripe refund for order %s failed: %s", order.id, exc)
        raise PaymentError(
            _("Stripe refused the refund: %(msg)s", msg=exc.user_message or str(exc))
        ) from exc
    return refund.id


class BadSignature(Exception):
    pass


def verify_event(payload: bytes, signature: str | None) -> stripe.Event:
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise BadSignature("webhook secret not configured")
    if not signature:
        raise BadSignature("missing Stripe-Signature header")
    try:
        return stripe.Webhook.construct_event(
            payload, signature, secret, tolerance=WEBHOOK_TOLERANCE
        )
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise BadSignature(str(exc)) from exc


def handle_webhook(payload: bytes, signature: str | None) -> str:
    """Verify and apply one webhook delivery; returns what happened, for the log."""
    event = verify_event(payload, signature)
    db.session.add(StripeEvent(id=event.id, type=event.type))
    try:
        db.session.flush()  # a concurrent delivery of the same event waits here, then fails
    except IntegrityError:
        db.session.rollback()
        return "duplicate"
    handler = _HANDLERS.get(event.type)
    if handler is None:
        db.session.commit()
        return "ignored"
    obj = event.data.object.to_dict()  # a StripeObject is not a dict (stripe >= 15)
    try:
        outcome = handler(obj)
    except IntegrityError:
        db.session.rollback()
        return "duplicate"
    db.session.commit()
    return outcome


def _order_for_session(session: dict) -> Order | None:
    order = db.session.scalar(select(Order).where(Order.stripe_session_id == session["id"]))
    if order is None:
        ref = session.get("client_reference_id") or (session.get("metadata") or {}).get("order_id")
        if ref and str(ref).isdigit():
            order = db.session.get(Order, int(ref))
    return order


def _on_session_paid(session: dict) -> str:
    order = _order_for_session(session)
    if order is None:
        return "unknown order"
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return "awaiting async payment"
    intent = session.get("payment_intent") or session["id"]
    if not order.stripe_payment_intent:
        order.stripe_payment_intent = intent
    if not order.stripe_session_id:
        order.stripe_session_id = session["id"]
    db.session.flush()
    paid = orders.confirm_payment(
        order.id,
        provider="stripe",
        external_id=intent,
        amount=session.get("amount_total") or 0,
        currency=session.get("currency") or "",
    )
    return "paid" if paid else "not paid"


def _on_session_failed(session: dict) -> str:
    """The payment failed or the session expired: cancel the order, but only when this is the
    session it uses. Another session for the order (created by an attempt whose reply was lost,
    so the customer never saw it) must not cancel an order being paid through the current one.
    """
    order = db.session.scalar(select(Order).where(Order.stripe_session_id == session["id"]))
    if order is None:
        return "not an order's current session"
    reason = "payment failed" if session.get("status") != "expired" else "expired"
    return "cancelled" if orders.cancel(order.id, reason) else "unchanged"


def _on_charge_refunded(charge: dict) -> str:
    """Record refunds made in the Stripe dashboard; those made by Siyu are already recorded.

    Since API version 2022-11-15 a charge no longer embeds its refunds, so they are listed
    from Stripe. Each is recorded once, however often Stripe reports it.
    """
    intent = charge.get("payment_intent")
    order = (
        db.session.scalar(select(Order).where(Order.stripe_payment_intent == intent))
        if intent
        else None
    )
    if order is None:
        return "unknown order"
    refunds = client().v1.refunds.list(params={"payment_intent": intent, "limit": 100})
    recorded = 0
    for item in refunds.auto_paging_iter():
        refund = item.to_dict()
        if (refund.get("metadata") or {}).get("siyu_refund"):
            continue  # made by Siyu: recorded in the transaction that asked for it
        if refund.get("status") not in (None, "succeeded", "pending"):
            continue
        if orders.record_external_refund(
            order.id, refund["id"], refund["amount"], refund.get("currency") or order.currency
        ):
            recorded += 1
    return f"{recorded} refunds recorded"


_HANDLERS = {
    "checkout.session.completed": _on_session_paid,
    "checkout.session.async_payment_succeeded": _on_session_paid,
    "checkout.session.async_payment_failed": _on_session_failed,
    "checkout.session.expired": _on_session_failed,
    "charge.refunded": _on_charge_refunded,
}
