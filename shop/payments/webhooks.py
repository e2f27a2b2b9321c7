"""The Stripe webhook: verify a delivery, record its event once, apply it to the order.

The webhook trusts nothing it cannot verify: the signature is checked by Stripe's own library
(``stripe_gateway.verify_event``, 300 s tolerance); each event id is handled once (its row is
inserted in the same transaction as its effect, so five concurrent deliveries produce one
effect); events may come in any order because every effect is a conditional state transition
of ``shop.orders.services``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import Order
from shop.payments import stripe_gateway
from shop.payments.models import StripeEvent


def handle(payload: bytes, signature: str | None) -> str:
    """Verify and apply one webhook delivery; returns what happened, for the log.

    Raises ``stripe_gateway.BadSignature`` for a delivery Stripe did not sign, and
    ``stripe_gateway.MalformedEvent`` for a signed one that cannot be applied (no data, no
    object id, a value of the wrong type): that event is recorded, nothing else changes.
    """
    try:
        event = stripe_gateway.verify_event(payload, signature)
    except stripe_gateway.MalformedEvent as bad:
        _record_malformed(bad.event_id, bad.event_type)
        raise
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
    try:
        outcome = handler(event.data)
    except IntegrityError:
        db.session.rollback()
        return "duplicate"
    except (stripe_gateway.MalformedEvent, KeyError, TypeError, ValueError) as exc:
        _record_malformed(event.id, event.type)
        raise stripe_gateway.MalformedEvent(str(exc), event.id, event.type) from exc
    db.session.commit()
    return outcome


def _record_malformed(event_id: str | None, event_type: str | None) -> None:
    """Undo whatever the event began and keep only its record (a retry is then a duplicate)."""
    db.session.rollback()
    if not event_id:
        return
    db.session.add(StripeEvent(id=event_id[:255], type=(event_type or "unknown")[:64]))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def _whole(value) -> int:
    """An amount as Stripe sends it: a whole number of minor units."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise stripe_gateway.MalformedEvent(f"expected an amount, got {value!r}")
    return value


def _text(value, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise stripe_gateway.MalformedEvent(f"expected text, got {value!r}")
    return value


def _order_for_session(session: dict) -> Order | None:
    order = db.session.scalar(select(Order).where(Order.stripe_session_id == session["id"]))
    if order is None:
        ref = session.get("client_reference_id") or (session.get("metadata") or {}).get("order_id")
        if ref and str(ref).isdigit():
            order = db.session.get(Order, int(ref))
    return order


def _on_session_paid(session: dict) -> str:
    purpose = (session.get("metadata") or {}).get("purpose")
    if purpose:  # paid for something other than an order (a package registered it)
        from shop.hooks import hooks

        receiver = hooks().payment_receivers.get(_text(purpose))
        return receiver(session) if receiver else "unknown purpose"
    order = _order_for_session(session)
    if order is None:
        return "unknown order"
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return "awaiting async payment"
    intent = _text(session.get("payment_intent")) or session["id"]
    if not order.stripe_payment_intent:
        order.stripe_payment_intent = intent
    if not order.stripe_session_id:
        order.stripe_session_id = session["id"]
    db.session.flush()
    paid = orders.confirm_payment(
        order.id,
        provider="stripe",
        external_id=intent,
        amount=_whole(session.get("amount_total") or 0),
        currency=_text(session.get("currency")),
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

    Each is recorded once, however often Stripe reports it.
    """
    intent = _text(charge.get("payment_intent"))
    order = (
        db.session.scalar(select(Order).where(Order.stripe_payment_intent == intent))
        if intent
        else None
    )
    if order is None:
        return "unknown order"
    recorded = 0
    for refund in stripe_gateway.refunds_of(intent):
        if refund.made_by_siyu:
            continue  # recorded in the transaction that asked for it
        if refund.status not in (None, "succeeded", "pending"):
            continue
        if orders.record_external_refund(
            order.id, refund.id, refund.amount, refund.currency or order.currency
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
