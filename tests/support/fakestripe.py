"""A local fake of the few Stripe endpoints Siyu uses, served over real HTTP.

The shop talks to it through the real ``stripe`` library (``STRIPE_API_BASE`` points at it), so
the tests exercise the library's request encoding (form-encoded nested parameters), its
idempotency keys, its error mapping and its response parsing. Like Stripe, the fake:

- checks the secret key (``Authorization: Bearer sk_test_...``);
- refuses a Checkout Session whose ``expires_at`` is less than 30 minutes or more than 24 hours
  away, and computes ``amount_total`` from the line items, which must share one currency;
- replays the first response for a repeated ``Idempotency-Key`` and refuses the key when it
  comes back with different parameters (``idempotency_error``);
- refuses a refund larger than what is left of the payment, in Stripe's error shape.

Every request is recorded (``requests``), so tests can assert what the shop sent.
Webhook events are built and signed here too, with Stripe's own signing code.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import stripe
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SECRET_KEY = "sk_test_siyu_fake_0123456789"
WEBHOOK_SECRET = "whsec_test_siyu_fake_0123456789"
MIN_SESSION_SECONDS = 30 * 60
MAX_SESSION_SECONDS = 24 * 3600
_KEY_PART = re.compile(r"\[([^\]]*)\]")


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def parse_form(pairs) -> dict[str, Any]:
    """Rebuild nested parameters from Stripe's form encoding.

    ``line_items[0][price_data][unit_amount]=990`` becomes
    ``{"line_items": [{"price_data": {"unit_amount": "990"}}]}``; values stay strings, as
    Stripe receives them.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        parts = [head, *_KEY_PART.findall(key[len(head) :])]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node):
    if not isinstance(node, dict):
        return node
    node = {k: _listify(v) for k, v in node.items()}
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node


class StripeRefusal(Exception):
    """A request the fake answers with a Stripe error object."""

    def __init__(self, status: int, message: str, *, type_="invalid_request_error", **extra):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, **extra}}


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    status: int = 0

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass
class FakeStripe:
    """The fake's state. ``start()`` serves it on 127.0.0.1 at a random port."""

    sessions: dict[str, dict] = field(default_factory=dict)
    line_items: dict[str, list[dict]] = field(default_factory=dict)
    payment_intents: dict[str, dict] = field(default_factory=dict)
    refunds: dict[str, dict] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    _idempotent: dict[tuple[str, str], tuple[dict, int, dict]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: Any = None
    url: str = ""

    # -- serving ------------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        self._server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def app_config(self) -> dict[str, str]:
        """The settings that point the shop at this fake."""
        return {
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_API_BASE": self.url,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    def wsgi(self, environ, start_response):
        request = Request(environ)
        params = parse_form(request.form.items(multi=True))
        params.update(parse_form(request.args.items(multi=True)))
        record = RecordedRequest(request.method, request.path, params, dict(request.headers))
        with self._lock:
            self.requests.append(record)
            status, body, headers = self._dispatch(request, params)
        record.status = status
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        response.headers["Request-Id"] = new_id("req")
        for name, value in headers.items():
            response.headers[name] = value
        return response(environ, start_response)

    def _dispatch(self, request: Request, params: dict) -> tuple[int, dict, dict]:
        if request.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
            return 401, {"error": {"type": "invalid_request_error", "message": "Bad key"}}, {}
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST" and key and (request.path, key) in self._idempotent:
            first_params, status, body = self._idempotent[(request.path, key)]
            if first_params != params:
                return (
                    400,
                    StripeRefusal(
                        400,
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with.",
                        type_="idempotency_error",
                    ).body,
                    {},
                )
            return status, body, {"Idempotent-Replayed": "true"}
        try:
            status, body = 200, self._route(request.method, request.path, params)
        except StripeRefusal as refusal:
            status, body = refusal.status, refusal.body
        if request.method == "POST" and key:
            self._idempotent[(request.path, key)] = (params, status, body)
        return status, body, {}

    def _route(self, method: str, path: str, params: dict) -> dict:
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._create_session(params)
        if method == "GET" and path.startswith("/v1/checkout/sessions/"):
            session = self.sessions.get(path.rsplit("/", 1)[1])
            if session is None:
                raise StripeRefusal(404, "No such checkout.session", code="resource_missing")
            return session
        if method == "POST" and path == "/v1/refunds":
            return self._create_refund(params, metadata=params.get("metadata") or {})
        if method == "GET" and path == "/v1/refunds":
            intent = params.get("payment_intent")
            data = [r for r in self.refunds.values() if r["payment_intent"] == intent]
            return {"object": "list", "url": "/v1/refunds", "has_more": False, "data": data}
        raise StripeRefusal(404, f"Unrecognized request URL ({method}: {path})")

    # -- endpoints ----------------------------------------------------------------------------

    def _create_session(self, params: dict) -> dict:
        if params.get("mode") != "payment":
            raise StripeRefusal(400, "Missing required param: mode.", param="mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise StripeRefusal(400, "Missing required param: line_items.", param="line_items")
        currencies, total = set(), 0
        for i, item in enumerate(items):
            price = item.get("price_data") or {}
            try:
                quantity, unit_amount = int(item["quantity"]), int(price["unit_amount"])
                currencies.add(price["currency"])
                name = price["product_data"]["name"]
            except (KeyError, TypeError, ValueError) as exc:
                raise StripeRefusal(
                    400, f"Invalid line_items[{i}]: {exc}", param=f"line_items[{i}]"
                ) from exc
            if quantity < 1 or unit_amount < 0 or not name:
                raise StripeRefusal(400, "Invalid line item", param=f"line_items[{i}]")
            total += quantity * unit_amount
        if len(currencies) != 1:
            raise StripeRefusal(400, "Line items must share one currency", param="line_items")
        now = int(time.time())
        expires_at = int(params.get("expires_at") or now + MAX_SESSION_SECONDS)
        if not now + MIN_SESSION_SECONDS <= expires_at <= now + MAX_SESSION_SECONDS:
            raise StripeRefusal(
                400,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
                param="expires_at",
            )
        if not params.get("success_url"):
            raise StripeRefusal(400, "Missing required param: success_url.", param="success_url")
        session_id = new_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currencies.pop(),
            "expires_at": expires_at,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        self.line_items[session_id] = items
        return session

    def _create_refund(self, params: dict, metadata: dict) -> dict:
        intent = self.payment_intents.get(params.get("payment_intent") or "")
        if intent is None:
            raise StripeRefusal(
                400,
                f"No such payment_intent: '{params.get('payment_intent')}'",
                code="resource_missing",
                param="payment_intent",
            )
        left = intent["amount"] - intent["amount_refunded"]
        if left <= 0:
            raise StripeRefusal(
                400,
                f"Charge {intent['latest_charge']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = int(params.get("amount") or left)
        if amount <= 0 or amount > left:
            raise StripeRefusal(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                param="amount",
            )
        intent["amount_refunded"] += amount
        refund = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": intent["latest_charge"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "metadata": metadata,
            "payment_intent": intent["id"],
            "reason": params.get("reason"),
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return refund

    # -- what happens on Stripe's side, outside the shop's requests ---------------------------

    def pay(self, session_id: str, *, async_pending: bool = False) -> dict:
        """The customer pays the session; returns the session as the webhook would carry it.

        With ``async_pending`` the payment method is a delayed one (bank debit): the session is
        complete but ``payment_status`` stays ``unpaid`` until the money arrives.
        """
        with self._lock:
            session = self.sessions[session_id]
            intent_id = new_id("pi")
            self.payment_intents[intent_id] = {
                "id": intent_id,
                "amount": session["amount_total"],
                "amount_refunded": 0,
                "currency": session["currency"],
                "latest_charge": new_id("ch"),
            }
            session.update(
                status="complete",
                payment_intent=intent_id,
                payment_status="unpaid" if async_pending else "paid",
            )
            return dict(session)

    def settle(self, session_id: str) -> dict:
        """A delayed payment arrived: the session is paid."""
        with self._lock:
            session = self.sessions[session_id]
            session["payment_status"] = "paid"
            return dict(session)

    def expire(self, session_id: str) -> dict:
        with self._lock:
            session = self.sessions[session_id]
            session.update(status="expired")
            return dict(session)

    def duplicate_session(self, session_id: str) -> dict:
        """Another session made from the same request, as when a reply was lost and the shop
        asked again with a fresh idempotency key: the customer never saw this one."""
        with self._lock:
            reference = self.sessions[session_id]["client_reference_id"]
            params = next(
                r.params
                for r in self.requests
                if r.path == "/v1/checkout/sessions"
                and r.params.get("client_reference_id") == reference
            )
            return dict(self._create_session(params))

    def dashboard_refund(self, payment_intent: str, amount: int) -> dict:
        """Staff refund part of a payment in the Stripe dashboard (no Siyu metadata)."""
        with self._lock:
            return self._create_refund(
                {"payment_intent": payment_intent, "amount": str(amount)}, metadata={}
            )

    def charge(self, payment_intent: str) -> dict:
        """The charge of a payment as a ``charge.refunded`` event carries it.

        Since API version 2022-11-15 the charge no longer embeds its refunds.
        """
        with self._lock:
            intent = self.payment_intents[payment_intent]
            return {
                "id": intent["latest_charge"],
                "object": "charge",
                "amount": intent["amount"],
                "amount_refunded": intent["amount_refunded"],
                "currency": intent["currency"],
                "payment_intent": payment_intent,
                "refunded": intent["amount_refunded"] == intent["amount"],
                "status": "succeeded",
            }

    def calls(self, method: str, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]


# -- webhooks ---------------------------------------------------------------------------------


def event(type_: str, obj: dict, *, event_id: str | None = None) -> dict:
    """A Stripe event as delivered to a webhook endpoint."""
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }


def signed(evt: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """The body and ``Stripe-Signature`` header Stripe would send, signed by Stripe's code."""
    payload = json.dumps(evt)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return payload.encode(), header


def deliver(client, evt: dict, **signing):
    """POST a signed event to the shop's webhook endpoint with a Flask test client."""
    payload, header = signed(evt, **signing)
    return client.post(
        "/stripe/webhook",
        data=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )
