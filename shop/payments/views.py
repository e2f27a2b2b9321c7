"""Stripe's webhook: the signed event is checked and applied by ``payments.handle_webhook``."""

from __future__ import annotations

from flask import current_app, jsonify, request

from shop.extensions import csrf
from shop.payments import services as payments
from shop.web.blueprints import storefront


@storefront.post("/stripe/webhook")
@csrf.exempt
def stripe_webhook():
    try:
        outcome = payments.handle_webhook(
            request.get_data(), request.headers.get("Stripe-Signature")
        )
    except payments.BadSignature as exc:
        current_app.logger.warning("Stripe webhook refused: %s", exc)
        return jsonify(error="invalid signature"), 400
    return jsonify(result=outcome)
