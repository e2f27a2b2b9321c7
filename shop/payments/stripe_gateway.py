"""Stripe, and nothing else: the only module that imports ``stripe``.

It takes and returns plain values (ids, amounts, small dataclasses) and imports nothing from
the domains that call it, so orders, checkout and the webhook handler depend on it and never
the other way round. Every call that creates something at Stripe carries an idempotency key
from the caller, so a retry returns what the first call made. Stripe's failures come out as
``GatewayError``; the caller says what it means for its action.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import stripe
from flask import current_app

WEBHOOK_TOLERANCE = 300
"""Seconds a webhook signature stays valid: an older delivery is refused as a replay."""
MIN_SESSION_LIFETIME = timedelta(minutes=30, seconds=30)
"""Stripe refuses a Checkout Session that expires sooner than 30 minutes after its creation."""
SIYU_REFUND = "siyu_refund"
"""Metadata key on the refunds Siyu makes (its value: the refund's idempotency key)."""


class GatewayError(Exception):
    """Stripe refused or could not be reached; ``message`` is Stripe's own words for it.

    ``retryable``: Stripe was not reached or did not decide (a network error, a rate limit, an
    error on its side), so the same request, with the same idempotency key, may still succeed
    and must be tried again; otherwise Stripe refused it for good."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


_UNDECIDED = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


class MalformedEvent(Exception):
    """A delivery Stripe signed whose event lacks what every event has (its data, its object
    and the object's id) or carries a value of the wrong type. ``event_id`` and
    ``event_type`` are what could be read of it, for the record."""

    def __init__(self, reason: str, event_id: str | None = None, event_type: str | None = None):
        super().__init__(reason)
        self.event_id = event_id
        self.event_type = event_type


class BadSignature(Exception):
    """A webhook delivery whose signature does not verify (or cannot be checked)."""


@dataclass(frozen=True)
class ChargedLine:
    """One line of a Checkout Session: what the customer sees and pays for it."""

    name: str
    quantity: int
    unit_amount: int


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True)
class StripeRefund:
    id: str
    amount: int
    currency: str | None
    status: str | None
    made_by_siyu: bool


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    data: dict
    """The event's object (a session, a charge) as a plain dict."""


def enabled() -> bool:
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


def create_checkout_session(
    *,
    order_id: int,
    currency: str,
    lines: list[ChargedLine],
    success_url: str,
    cancel_url: str,
    expires_at: int,
    idempotency_key: str,
    purpose: str = "",
) -> CheckoutSession:
    """A Checkout Session charging ``lines``, expiring at ``expires_at`` (a Unix time).

    The same key with the same parameters returns the same session (Stripe refuses a key
    reused with other parameters). ``purpose`` (e.g. ``live_tip``): what is paid is not an
    order but the row ``order_id`` of that purpose; the webhook hands it to its receiver.
    """
    reference = f"{purpose}-{order_id}" if purpose else str(order_id)
    metadata = {"purpose": purpose, "id": str(order_id)} if purpose else {"order_id": reference}
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": line.quantity,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": line.unit_amount,
                    "product_data": {"name": line.name},
                },
            }
            for line in lines
        ],
        "client_reference_id": reference,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": expires_at,
    }
    try:
        session = client().v1.checkout.sessions.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    except stripe.StripeError as exc:
        raise GatewayError(exc.user_message or str(exc)) from exc
    return CheckoutSession(id=session.id, url=session.url)


def create_refund(*, payment_intent: str, amount: int, order_id: int, idempotency_key: str) -> str:
    """Refund ``amount`` of a payment; returns the Stripe refund id.

    The refund is marked as Siyu's (``SIYU_REFUND``), so the ``charge.refunded`` webhook that
    follows does not record it a second time.
    """
    try:
        refund = client().v1.refunds.create(
            params={
                "payment_intent": payment_intent,
                "amount": amount,
                "metadata": {"order_id": str(order_id), SIYU_REFUND: idempotency_key},
            },
            options={"idempotency_key": f"refund-{idempotency_key}"},
        )
    except stripe.StripeError as exc:
        raise GatewayError(
            exc.user_message or str(exc), retryable=isinstance(exc, _UNDECIDED)
        ) from exc
    return refund.id


def refunds_of(payment_intent: str) -> list[StripeRefund]:
    """Every refund of a payment, however it was made (Siyu or the Stripe dashboard).

    Since API version 2022-11-15 a charge no longer embeds its refunds, so they are listed.
    """
    found = client().v1.refunds.list(params={"payment_intent": payment_intent, "limit": 100})
    refunds = []
    for item in found.auto_paging_iter():
        refund = item.to_dict()
        refunds.append(
            StripeRefund(
                id=refund["id"],
                amount=refund["amount"],
                currency=refund.get("currency"),
                status=refund.get("status"),
                made_by_siyu=bool((refund.get("metadata") or {}).get(SIYU_REFUND)),
            )
        )
    return refunds


def verify_event(payload: bytes, signature: str | None) -> WebhookEvent:
    """The event of a webhook delivery, if Stripe signed it (within ``WEBHOOK_TOLERANCE``)."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise BadSignature("webhook secret not configured")
    if not signature:
        raise BadSignature("missing Stripe-Signature header")
    stamp = _signed_at(signature)
    if stamp is not None and stamp > time.time() + WEBHOOK_TOLERANCE:
        raise BadSignature("signature timestamp is in the future")
    try:
        event = stripe.Webhook.construct_event(
            payload, signature, secret, tolerance=WEBHOOK_TOLERANCE
        )
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise BadSignature(str(exc)) from exc
    raw = event.to_dict()  # A StripeObject is not a dict (stripe >= 15).
    event_id, event_type = raw.get("id"), raw.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise MalformedEvent("an event without an id or a type")
    data = raw.get("data")
    plain = data.get("object") if isinstance(data, dict) else None
    if not isinstance(plain, dict):
        raise MalformedEvent("an event without data", event_id, event_type)
    if not isinstance(plain.get("id"), str) or not plain["id"]:
        raise MalformedEvent("an event whose object has no id", event_id, event_type)
    return WebhookEvent(id=event_id, type=event_type, data=plain)


def _signed_at(signature: str) -> int | None:
    """The ``t=`` timestamp of a ``Stripe-Signature`` header, if it has a readable one."""
    for part in signature.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None
