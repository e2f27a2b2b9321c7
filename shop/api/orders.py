"""Orders: read (lines, payments, refunds, attribution and why), fulfil, hand over, refund.

Writes call the same services as the admin, under the key's name in the audit log. A key
pinned to stores sees and changes only their orders.
"""

from __future__ import annotations

import hashlib
import logging

from flask_babel import gettext as _
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.api.auth import actor, current_key, requires, store_ids
from shop.api.idempotency import HEADER_DOC, idempotent
from shop.api.kit import (
    MAX_ID,
    StoreListArgs,
    api_blueprint,
    found,
    page_schema,
    paginate,
)
from shop.api.models import Scope
from shop.api.schemas import OrderSchema, RefundSchema
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services
from shop.orders.models import Order, OrderStatus, Refund, RefundStatus

log = logging.getLogger(__name__)

blp = api_blueprint("Orders", "Orders with their lines, payments, refunds and attribution.")

OrderPage = page_schema(OrderSchema)


class OrderListArgs(StoreListArgs):
    status = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in OrderStatus])
    )
    paid_since = fields.AwareDateTime(load_default=None, default_timezone=None)


class RefundLineArgs(Schema):
    line_id = fields.Integer(required=True, validate=validate.Range(1, MAX_ID))
    quantity = fields.Integer(required=True, validate=validate.Range(1, 10_000))


class RefundArgs(Schema):
    lines = fields.List(
        fields.Nested(RefundLineArgs), required=True, validate=validate.Length(1, 500)
    )
    restock = fields.Boolean(load_default=False)
    reason = fields.String(load_default="", validate=validate.Length(0, 255))


def visible_orders():
    query = select(Order)
    stores = store_ids()
    if stores is not None:
        query = query.where(Order.store_id.in_(stores))
    return query


def order_or_404(order_id: int) -> Order:
    return found(db.session.scalar(visible_orders().where(Order.id == order_id)))


def _with_details(query):
    return query.options(selectinload(Order.lines), selectinload(Order.refunds))


@blp.route("/orders")
@blp.arguments(OrderListArgs, location="query", as_kwargs=True)
@blp.response(200, OrderPage)
@requires(Scope.ORDERS_READ)
def list_orders(**args):
    """Orders, oldest first, paged by cursor."""
    from shop.api.kit import naive_utc

    query = _with_details(visible_orders())
    if args.get("store_id"):
        query = query.where(Order.store_id == args["store_id"])
    if args.get("status"):
        query = query.where(Order.status == args["status"])
    if args.get("paid_since"):
        query = query.where(Order.paid_at >= naive_utc(args["paid_since"]))
    return paginate(query, Order, args, changed=Order.updated_at)


@blp.route("/orders/<id:order_id>")
@blp.response(200, OrderSchema)
@requires(Scope.ORDERS_READ)
def get_order(order_id: int):
    """One order."""
    return order_or_404(order_id)


@blp.route("/orders/<id:order_id>/fulfil", methods=["POST"])
@blp.doc(parameters=[HEADER_DOC])
@requires(Scope.ORDERS_WRITE)
@idempotent
@blp.response(200, OrderSchema)
def fulfil_order(order_id: int):
    """Mark a delivery order shipped."""
    order = order_or_404(order_id)
    with unit_of_work():
        services.fulfil(order.id, actor())
    return _fresh(order.id)


@blp.route("/orders/<id:order_id>/picked-up", methods=["POST"])
@blp.doc(parameters=[HEADER_DOC])
@requires(Scope.ORDERS_WRITE)
@idempotent
@blp.response(200, OrderSchema)
def pick_up_order(order_id: int):
    """Mark a pick-up order collected by the customer."""
    order = order_or_404(order_id)
    with unit_of_work():
        services.mark_picked_up(order.id, actor())
    return _fresh(order.id)


@blp.route("/orders/<id:order_id>/refunds", methods=["POST"])
@blp.doc(parameters=[HEADER_DOC])
@requires(Scope.ORDERS_WRITE)
@idempotent
@blp.arguments(RefundArgs)
@blp.response(201, RefundSchema)
def refund_order(body: dict, order_id: int):
    """Refund lines of a paid order (through Stripe where Stripe took the money)."""
    from flask import request

    order = order_or_404(order_id)
    quantities: dict[int, int] = {}
    line_ids = {line.id for line in order.lines}
    for line in body["lines"]:
        if line["line_id"] not in line_ids:
            raise InvalidInput(_("Line %(id)s is not a line of this order.", id=line["line_id"]))
        quantities[line["line_id"]] = quantities.get(line["line_id"], 0) + line["quantity"]
    key = request.headers.get("Idempotency-Key", "")
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    with unit_of_work():
        refund = services.refund(
            order.id,
            quantities,
            staff=actor(),
            idempotency_key=f"api-{current_key().id}-{digest}",
            restock=body["restock"],
            reason=body["reason"],
        )
    if refund.status == RefundStatus.REQUESTED:  # through Stripe: asked now, holding nothing
        try:
            services.settle_refund(refund.id)
        except Exception:  # left requested: the sweep settles it with the same key
            log.exception("refund %s not settled now", refund.id)
            db.session.rollback()
    return db.session.get(Refund, refund.id, populate_existing=True)


def _fresh(order_id: int) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)
