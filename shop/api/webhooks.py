"""Outgoing webhooks: events from the outbox, signed per Standard Webhooks, delivered at least
once, every attempt logged.

1. A change publishes its outbox topic in its own transaction (``order.paid``, ...). The
   handlers here (``on_<event>``) run through the outbox: each writes the event once (its
   ``key`` is unique) with its envelope ``{id, type, created_at, api_version, store_id, data}``
   and one delivery per endpoint that wants it, in the handler's transaction.
2. ``deliver(delivery_id)`` (a job, safe to run twice: it leases the delivery) signs the body
   with the endpoint's secret, and while a rotation runs with the previous one too (two
   signatures in ``webhook-signature``), and POSTs it with a 5 s timeout. Every attempt is
   logged: status, latency, the start of the answer.
3. A 2xx is done. A failure is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, or
   after the receiver's ``Retry-After`` if longer; a 4xx other than 408 and 429 is not retried.
   An endpoint failing for 24 h is disabled and the owners told: a mail to each
   (``shop.staff.mail``, through the outbox, in the transaction that disables it), a banner
   on the endpoints list and the admin home, and the audit log.
4. ``redeliver_due`` (every minute) hands over whatever is due whose job was lost: Redis down,
   a worker killed. The log is kept 30 days (``forget_old``).
"""

from __future__ import annotations

import base64
import enum
import json
import logging
import secrets
import time
import uuid
from datetime import datetime, timedelta

import requests
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from standardwebhooks.webhooks import Webhook

from shop.api.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from shop.errors import InvalidInput
from shop.extensions import db
from shop.hooks import register_handler, register_sweep
from shop.infra import leases, outbox
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import after_commit
from shop.staff import audit

log = logging.getLogger(__name__)

RETRY_AFTER = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
TIMEOUT_SECONDS = 5
LEASE = timedelta(seconds=60)
DISABLE_AFTER = timedelta(hours=24)
KEEP_LOG = timedelta(days=30)
ROTATION_OVERLAP = timedelta(hours=24)
RESPONSE_START = 500
RETRYABLE_4XX = {408, 429}

#: the shop's event types; each is also the outbox topic that announces it, handled by
#: ``on_<type with _>`` here. Other packages add theirs with ``register_event``.
SHOP_EVENTS = (
    "order.placed",
    "order.paid",
    "order.cancelled",
    "order.refunded",
    "order.fulfilled",
    "order.picked_up",
    "customer.created",
    "customer.updated",
    "member.tier_changed",
    "points.changed",
    "coupon.claimed",
    "coupon.redeemed",
    "stock.low",
    "stock.out",
    "product.updated",
)
TEST_EVENT = "webhook.test"


class WebhookTopic(enum.StrEnum):
    """What happens to an endpoint that the shop acts on, as outbox topics."""

    ENDPOINT_DISABLED = "webhook_endpoint.disabled"  # (endpoint_id): failing for 24 h


def register_event(app, event_type: str, handler: str, topic: str | None = None) -> None:
    """Offer ``event_type`` to endpoints; ``handler`` (a dotted path) turns each publication of
    the outbox topic of that name (or ``topic``, when one topic announces several types) into
    an event with ``emit``."""
    app.extensions["siyu_api"]["event_types"].add(event_type)
    register_handler(app, topic or event_type, handler)


def event_types() -> list[str]:
    return sorted(current_app.extensions["siyu_api"]["event_types"])


def init_app(app) -> None:
    for event_type in SHOP_EVENTS:
        register_event(app, event_type, f"shop.api.webhooks.on_{event_type.replace('.', '_')}")
    register_handler(app, WebhookTopic.ENDPOINT_DISABLED, "shop.api.webhooks.tell_owners")
    register_sweep(app, "shop.api.webhooks.redeliver_due", 60)
    register_sweep(app, "shop.api.webhooks.forget_old", 24 * 3600)


# ---- events ------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _order_data(order_id: int) -> tuple[int | None, dict] | None:
    from shop.api.schemas import OrderSchema
    from shop.orders.models import Order

    order = db.session.get(Order, order_id)
    if order is None:
        return None
    return order.store_id, {"order": OrderSchema().dump(order)}


def _order_event(event_type: str, order_id: int, *extra) -> None:
    found = _order_data(order_id)
    if found is None:
        return
    store_id, data = found
    if event_type == "order.refunded" and extra:
        from shop.api.schemas import RefundSchema
        from shop.orders.models import Refund

        refund = db.session.get(Refund, extra[0])
        if refund is not None:
            data["refund"] = RefundSchema().dump(refund)
    emit(event_type, ":".join(map(str, (order_id, *extra))), store_id, data)


def on_order_placed(order_id: int, *_locale) -> None:
    _order_event("order.placed", order_id)


def on_order_paid(order_id: int) -> None:
    _order_event("order.paid", order_id)


def on_order_cancelled(order_id: int) -> None:
    _order_event("order.cancelled", order_id)


def on_order_refunded(order_id: int, refund_id: int) -> None:
    _order_event("order.refunded", order_id, refund_id)


def on_order_fulfilled(order_id: int) -> None:
    _order_event("order.fulfilled", order_id)


def on_order_picked_up(order_id: int) -> None:
    _order_event("order.picked_up", order_id)


def on_customer_created(customer_id: int, store_id: int | None = None) -> None:
    from shop.api.schemas import CustomerSchema
    from shop.customers.models import Customer

    customer = db.session.get(Customer, customer_id)
    if customer is not None:
        emit(
            "customer.created",
            str(customer_id),
            store_id,
            {"customer": CustomerSchema().dump(customer)},
        )


def customer_store(customer_id: int, order_id: int | None = None) -> int | None:
    """The store a customer's event is filed under, for endpoints' store filter: the store of
    the order that caused it, else that of the customer's latest order (None: no order)."""
    from shop.orders.models import Order

    if order_id is not None:
        store_id = db.session.scalar(select(Order.store_id).where(Order.id == order_id))
        if store_id is not None:
            return store_id
    return db.session.scalar(
        select(Order.store_id)
        .where(Order.customer_id == customer_id)
        .order_by(Order.id.desc())
        .limit(1)
    )


def customer_data(customer_id: int) -> dict | None:
    """The customer as the API shows it (phone masked), or None."""
    from shop.api.schemas import CustomerSchema
    from shop.customers.models import Customer

    customer = db.session.get(Customer, customer_id)
    return CustomerSchema().dump(customer) if customer is not None else None


def on_customer_updated(customer_id: int, changed: str, at: str) -> None:
    """The customer's own details changed (``changed``: the fields, comma-separated)."""
    customer = customer_data(customer_id)
    if customer is not None:
        emit(
            "customer.updated",
            f"{customer_id}:{at}",
            customer_store(customer_id),
            {"customer": customer, "changed": changed.split(",")},
        )


def on_member_tier_changed(
    customer_id: int, previous: int | None, tier_id: int | None, reason: str, at: str
) -> None:
    from shop.api.schemas import TierSchema
    from shop.members.models import MemberTier

    customer = customer_data(customer_id)
    if customer is None:
        return
    tiers = {t: db.session.get(MemberTier, t) for t in (previous, tier_id) if t is not None}
    emit(
        "member.tier_changed",
        f"{customer_id}:{at}",
        customer_store(customer_id),
        {
            "customer": customer,
            "previous_tier": TierSchema().dump(tiers[previous]) if tiers.get(previous) else None,
            "tier": TierSchema().dump(tiers[tier_id]) if tiers.get(tier_id) else None,
            "reason": reason,
            "changed_at": at,
        },
    )


def on_points_changed(entry_id: int) -> None:
    """One ledger entry (earned, taken back, spent, given back, adjusted, expired) and the
    balance right after it."""
    from shop.api.schemas import PointsEntrySchema
    from shop.members.models import PointsEntry

    entry = db.session.get(PointsEntry, entry_id)
    if entry is None:
        return
    balance_after = db.session.scalar(
        select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(
            PointsEntry.customer_id == entry.customer_id, PointsEntry.id <= entry.id
        )
    )
    emit(
        "points.changed",
        str(entry_id),
        customer_store(entry.customer_id, entry.order_id),
        {"entry": PointsEntrySchema().dump(entry), "balance_after": balance_after},
    )


def _coupon_event(event_type: str, coupon_id: int, order_id: int | None = None) -> None:
    from shop.api.schemas import CouponSchema
    from shop.members.models import Coupon

    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None:
        return
    data: dict = {"coupon": CouponSchema().dump(coupon)}
    if order_id is not None:
        data["order_id"] = order_id
    emit(
        event_type,
        ":".join(str(part) for part in (coupon_id, order_id) if part is not None),
        customer_store(coupon.customer_id, order_id),
        data,
    )


def on_coupon_claimed(coupon_id: int) -> None:
    """A customer got a coupon: claimed, given by staff, a reward, or bought with points."""
    _coupon_event("coupon.claimed", coupon_id)


def on_coupon_redeemed(coupon_id: int, order_id: int) -> None:
    """An order used the coupon (``order_id``: that order)."""
    _coupon_event("coupon.redeemed", coupon_id, order_id)


def _variant_event(event_type: str, variant_id: int, cause: str) -> None:
    from shop.api.schemas import VariantSchema
    from shop.catalog.models import Variant

    variant = db.session.get(Variant, variant_id)
    if variant is not None:
        emit(
            event_type,
            f"{variant_id}:{cause}",
            variant.product.store_id,
            {"variant": VariantSchema().dump(variant)},
        )


def on_stock_low(variant_id: int, cause: str) -> None:
    _variant_event("stock.low", variant_id, cause)


def on_stock_out(variant_id: int, cause: str) -> None:
    _variant_event("stock.out", variant_id, cause)


def on_product_updated(product_id: int, when: str) -> None:
    from shop.api.schemas import ProductSchema
    from shop.catalog.models import Product

    product = db.session.get(Product, product_id)
    if product is not None:
        emit(
            "product.updated",
            f"{product_id}:{when}",
            product.store_id,
            {"product": ProductSchema().dump(product)},
        )


def emit(
    event_type: str,
    key: str,
    store_id: int | None,
    data: dict,
    endpoints: list[WebhookEndpoint] | None = None,
) -> WebhookEvent:
    """Write the event once (``event_type`` and ``key``) and a delivery to each endpoint that
    wants it; they are handed over after the commit. Does not commit."""
    full_key = f"{event_type}:{key}"[:255]
    event = db.session.scalar(select(WebhookEvent).where(WebhookEvent.key == full_key))
    if event is None:
        event = WebhookEvent(
            public_id=f"evt_{uuid.uuid4().hex}",
            key=full_key,
            type=event_type,
            store_id=store_id,
            data=data,
        )
        db.session.add(event)
        db.session.flush()
    if endpoints is None:
        endpoints = [
            e
            for e in db.session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
            )
            if e.wants(event_type, store_id)
        ]
    for endpoint in endpoints:
        _owe(event, endpoint)
    return event


def _owe(event: WebhookEvent, endpoint: WebhookEndpoint) -> None:
    exists = db.session.scalar(
        select(WebhookDelivery.id).where(
            WebhookDelivery.event_id == event.id, WebhookDelivery.endpoint_id == endpoint.id
        )
    )
    if exists:
        return
    try:
        with db.session.begin_nested():
            delivery = WebhookDelivery(
                event_id=event.id, endpoint_id=endpoint.id, next_attempt_at=utcnow()
            )
            db.session.add(delivery)
    except IntegrityError:  # a concurrent run owed it already
        return
    after_commit(dispatch, delivery.id)


def envelope(event: WebhookEvent) -> dict:
    return {
        "id": event.public_id,
        "type": event.type,
        "created_at": event.created_at.isoformat(timespec="seconds") + "Z",
        "api_version": _api_version(),
        "store_id": event.store_id,
        "data": event.data,
    }


def _api_version() -> str:
    from shop.api import API_VERSION

    return API_VERSION


# ---- delivery ----------------------------------------------------------------------------


def dispatch(delivery_id: int, delay: timedelta | None = None) -> None:
    """Hand a delivery to the queue; never raises (the sweep picks up what is lost)."""
    from shop.infra.queue import enqueue

    try:
        enqueue("shop.api.webhooks.deliver", delivery_id, delay=delay)
    except Exception:
        log.warning("webhook delivery %s not handed over; the sweep will", delivery_id)


def signature_headers(
    endpoint: WebhookEndpoint, msg_id: str, body: str, now: datetime | None = None
) -> dict[str, str]:
    """The Standard Webhooks headers; two signatures while a rotated-out secret is valid."""
    moment = now or datetime.now().astimezone()
    secrets_in_use = [endpoint.secret]
    if endpoint.previous_secret and (
        endpoint.previous_secret_until is None or endpoint.previous_secret_until > utcnow()
    ):
        secrets_in_use.append(endpoint.previous_secret)
    signatures = " ".join(Webhook(s).sign(msg_id, moment, body) for s in secrets_in_use)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "Siyu-Webhooks/1",
    }


def deliver(delivery_id: int) -> bool:
    """Try one delivery now (a job; a second run while one is under way does nothing: it is
    leased, ``shop.infra.leases``). True if the receiver took it. No row is locked while the
    receiver is called."""
    if not leases.claim(
        WebhookDelivery, delivery_id, "next_attempt_at", LEASE, DeliveryStatus.PENDING
    ):
        return False
    delivery = db.session.get(WebhookDelivery, delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    body = json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False)
    headers = signature_headers(endpoint, event.public_id, body)
    url, attempts = endpoint.url, delivery.attempts
    db.session.rollback()
    started, start_clock = utcnow(), time.monotonic()
    status, text, error, retry_after = None, "", "", None
    try:
        response = requests.post(
            url,
            data=body.encode(),
            headers=headers,
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
        )
        status, text = response.status_code, response.text[:RESPONSE_START]
        retry_after = _retry_after(response.headers.get("Retry-After"))
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    latency = int((time.monotonic() - start_clock) * 1000)
    db.session.add(
        WebhookAttempt(
            delivery_id=delivery_id,
            started_at=started,
            status_code=status,
            latency_ms=latency,
            response_start=text,
            error=error,
        )
    )
    ok = status is not None and 200 <= status < 300
    retry = not ok and (status is None or status >= 500 or status in RETRYABLE_4XX)
    values: dict = {"last_status": status}
    next_at = None
    if ok:
        values.update(status=DeliveryStatus.DELIVERED, delivered_at=utcnow())
    elif retry and attempts <= len(RETRY_AFTER):
        wait = max(RETRY_AFTER[attempts - 1], retry_after or timedelta(0))
        next_at = utcnow() + wait
        values.update(next_attempt_at=next_at)
    else:
        values.update(status=DeliveryStatus.FAILED)
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    _note_endpoint_health(endpoint.id, ok)
    db.session.commit()
    if next_at is not None:
        dispatch(delivery_id, delay=next_at - utcnow())
    return ok


def _retry_after(value: str | None) -> timedelta | None:
    if not value:
        return None
    try:
        return timedelta(seconds=min(int(value.strip()), 36 * 3600))
    except ValueError:
        return None


def _note_endpoint_health(endpoint_id: int, ok: bool) -> None:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if ok:
        endpoint.failing_since = None
        return
    now = utcnow()
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    elif endpoint.active and now - endpoint.failing_since >= DISABLE_AFTER:
        endpoint.active = False
        endpoint.disabled_at = now
        audit.record(
            None,
            "webhook_endpoint.disabled",
            endpoint,
            after={"url": endpoint.url, "failing_since": endpoint.failing_since.isoformat()},
        )
        outbox.publish(WebhookTopic.ENDPOINT_DISABLED, endpoint.id)
        log.warning("webhook endpoint %s disabled: failing for 24 h", endpoint.url)


def tell_owners(endpoint_id: int) -> int:
    """Outbox handler: mail every owner that the endpoint was disabled, in each of the shop's
    languages (staff have no language of their own). Nothing when it was enabled again
    meanwhile. Returns how many owners were mailed."""
    from shop.staff import mail

    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.active:
        return 0
    config = current_app.config
    link = config["PUBLIC_BASE_URL"].rstrip("/") + "/admin/webhooks/"
    since = endpoint.failing_since or endpoint.disabled_at
    parts = []
    for code in config["LANGUAGES"]:
        with force_locale(code):
            parts.append(
                _(
                    "The webhook endpoint %(url)s has failed since %(since)s UTC and was "
                    "disabled: no events are sent to it now. Fix the receiver, then enable it "
                    "again: %(link)s. Events of the time it was off can be sent again from the "
                    "delivery log.",
                    url=endpoint.url,
                    since=since.isoformat(sep=" ", timespec="minutes"),
                    link=link,
                )
            )
    with force_locale(config["BABEL_DEFAULT_LOCALE"]):
        subject = _("%(shop)s: a webhook endpoint was disabled", shop=config["SHOP_NAME"])
    return mail.tell_owners(subject, "\n\n".join(parts))


def disabled_endpoints() -> list[WebhookEndpoint]:
    """Endpoints the shop turned off after 24 h of failures (and no one enabled since)."""
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.active.is_(False), WebhookEndpoint.disabled_at.is_not(None))
            .order_by(WebhookEndpoint.id)
        )
    )


def redeliver_due(limit: int = 1000) -> int:
    """Sweep: hand over every pending delivery that is due. Reads only."""
    ids = leases.due(WebhookDelivery, "next_attempt_at", DeliveryStatus.PENDING, limit)
    for delivery_id in ids:
        dispatch(delivery_id)
    return len(ids)


def forget_old() -> int:
    """Sweep: drop attempts older than 30 days (and old idempotent answers). Its own
    transaction."""
    from shop.api.idempotency import forget_old as forget_answers

    gone = db.session.execute(
        delete(WebhookAttempt).where(WebhookAttempt.started_at < utcnow() - KEEP_LOG)
    ).rowcount
    db.session.commit()
    return gone + forget_answers()


# ---- what owners do ----------------------------------------------------------------------


def create_endpoint(
    url: str, event_types_wanted: list[str], store_id: int | None, staff, description: str = ""
) -> WebhookEndpoint:
    """Register an endpoint (its secret made here). Does not commit."""
    check_url(url)
    unknown = [t for t in event_types_wanted if t not in event_types()]
    if unknown:
        raise InvalidInput(_("Unknown event types: %(types)s", types=", ".join(unknown)))
    endpoint = WebhookEndpoint(
        url=url.strip(),
        description=description,
        event_types=sorted(event_types_wanted),
        store_id=store_id,
        secret=new_secret(),
    )
    db.session.add(endpoint)
    db.session.flush()
    audit.record(
        staff,
        "webhook_endpoint.create",
        endpoint,
        after={"url": endpoint.url, "event_types": endpoint.event_types},
    )
    return endpoint


def check_url(url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit((url or "").strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidInput(_("Enter the receiver's full address, starting with https://."))


def rotate_secret(endpoint: WebhookEndpoint, staff) -> str:
    """A new secret; the old one keeps signing too for 24 h. Does not commit."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = utcnow() + ROTATION_OVERLAP
    endpoint.secret = new_secret()
    audit.record(staff, "webhook_endpoint.rotate_secret", endpoint)
    return endpoint.secret


def enable(endpoint: WebhookEndpoint, staff) -> None:
    """Turn a (disabled) endpoint back on. Does not commit."""
    endpoint.active = True
    endpoint.disabled_at = None
    endpoint.failing_since = None
    audit.record(staff, "webhook_endpoint.enable", endpoint)


def send_test(endpoint: WebhookEndpoint) -> WebhookEvent:
    """A ``webhook.test`` event to this endpoint only. Does not commit."""
    return emit(
        TEST_EVENT,
        f"{endpoint.id}:{uuid.uuid4().hex}",
        endpoint.store_id,
        {"message": "This is a test event from Siyu."},
        endpoints=[endpoint],
    )


def replay(delivery_id: int) -> bool:
    """Send a delivery again from its first attempt (delivered, failed or pending). Does not
    commit; handed over after the commit."""
    done = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if done:
        after_commit(dispatch, delivery_id)
    return bool(done)


def replay_range(endpoint: WebhookEndpoint, start: datetime, end: datetime) -> int:
    """Send again every event of ``[start, end)`` this endpoint wants, owed or not. Does not
    commit. Returns how many."""
    events = db.session.scalars(
        select(WebhookEvent)
        .where(WebhookEvent.created_at >= start, WebhookEvent.created_at < end)
        .order_by(WebhookEvent.id)
    ).all()
    count = 0
    for event in events:
        if event.type == TEST_EVENT or not (
            (not endpoint.event_types or event.type in endpoint.event_types)
            and (endpoint.store_id is None or endpoint.store_id == event.store_id)
        ):
            continue
        delivery = db.session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.event_id == event.id, WebhookDelivery.endpoint_id == endpoint.id
            )
        )
        if delivery is None:
            _owe(event, endpoint)
        else:
            replay(delivery.id)
        count += 1
    return count
