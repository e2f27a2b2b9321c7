"""Stripe's webhook: the signed event is checked and applied by ``webhooks.handle``."""

from __future__ import annotations

from flask import current_app, jsonify, request

from shop.extensions import csrf
from shop.payments import stripe_gateway, webhooks
from shop.web.blueprints import storefront


@storefront.post("/stripe/webhook")
@csrf.exempt
def stripe_webhook():
    try:
        outcome = webhooks.handle(request.get_data(), request.headers.get("Stripe-Signature"))
    except stripe_gateway.BadSignature as exc:
        current_app.logger.warning("Stripe webhook refused: %s", exc)
        return jsonify(error="invalid signature"), 400
    except stripe_gateway.MalformedEvent as exc:
        current_app.logger.warning("Stripe webhook malformed (recorded): %s", exc)
        return jsonify(error="malformed event"), 400
    return jsonify(result=outcome)
