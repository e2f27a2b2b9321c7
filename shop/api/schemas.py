"""What the API answers, as marshmallow schemas (the OpenAPI document is generated from them).

Money is an integer in minor units with its currency beside it. Times are UTC, ISO 8601.
"""

from __future__ import annotations

from flask import g
from marshmallow import Schema, fields

from shop.api.kit import Money, UtcDateTime
from shop.api.models import Scope
from shop.customers.phones import mask_phone


def _phone(value: str | None) -> str:
    key = getattr(g, "api_key", None)
    if key is not None and key.allows(Scope.PHONES_READ):
        return value or ""
    return mask_phone(value)


class StoreSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    city = fields.String(required=True)
    address = fields.String(required=True)
    active = fields.Boolean(required=True)


class VariantSchema(Schema):
    id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    name = fields.String(required=True)
    price = Money()
    sale_price = Money(allow_none=True)
    stock = fields.Integer(required=True)


class ProductSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)
    store_id = fields.Integer(allow_none=True, required=True)
    category_id = fields.Integer(allow_none=True, required=True)
    active = fields.Boolean(required=True)
    created_at = UtcDateTime(required=True)
    variants = fields.List(fields.Nested(VariantSchema), required=True)


class StockMovementSchema(Schema):
    id = fields.Integer(required=True)
    variant_id = fields.Integer(required=True)
    delta = fields.Integer(required=True)
    reason = fields.String(required=True)
    order_id = fields.Integer(allow_none=True, required=True)
    note = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class OrderLineSchema(Schema):
    id = fields.Integer(required=True)
    variant_id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    product_name = fields.String(required=True)
    variant_name = fields.String(required=True)
    sku = fields.String(required=True)
    unit_price = Money()
    quantity = fields.Integer(required=True)
    line_total = Money()
    refunded_quantity = fields.Integer(required=True)
    refunded_amount = Money()


class PaymentSchema(Schema):
    id = fields.Integer(required=True)
    provider = fields.String(required=True)
    amount = Money()
    currency = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class RefundLineSchema(Schema):
    order_line_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    amount = Money()


class RefundSchema(Schema):
    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    amount = Money()
    currency = fields.String(required=True)
    reason = fields.String(required=True)
    restock = fields.Boolean(required=True)
    status = fields.String(
        required=True,
        metadata={"description": "succeeded; requested while Stripe has not answered; failed"},
    )
    failure = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    lines = fields.List(fields.Nested(RefundLineSchema), required=True)


class AttributionSchema(Schema):
    store_id = fields.Integer(allow_none=True)
    sharer_id = fields.Integer(allow_none=True)
    parent_sharer_id = fields.Integer(allow_none=True)
    link_id = fields.Integer(allow_none=True)
    live_session_id = fields.Integer(allow_none=True)
    rule = fields.String()
    explanation = fields.String()
    decided_at = UtcDateTime(allow_none=True)


class OrderSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    status = fields.String(required=True)
    store_id = fields.Integer(allow_none=True, required=True)
    customer_id = fields.Integer(required=True)
    fulfilment = fields.String(required=True)
    payment_method = fields.String(required=True)
    contact_name = fields.String(required=True)
    phone = fields.Function(lambda order: _phone(order.phone), required=True)
    city = fields.String(required=True)
    currency = fields.String(required=True)
    subtotal = Money()
    discount = Money()
    shipping = Money()
    total = Money()
    refunded_amount = Money()
    coupon_id = fields.Integer(allow_none=True, required=True)
    points_spent = fields.Integer(required=True)
    share_code = fields.String(allow_none=True, required=True)
    live_session_id = fields.Integer(allow_none=True, required=True)
    created_at = UtcDateTime(required=True)
    paid_at = UtcDateTime(allow_none=True, required=True)
    updated_at = UtcDateTime(required=True)
    lines = fields.List(fields.Nested(OrderLineSchema), required=True)
    payments = fields.List(fields.Nested(PaymentSchema), required=True)
    refunds = fields.List(fields.Nested(RefundSchema), required=True)
    attribution = fields.Nested(AttributionSchema, allow_none=True, required=True)

    def get_attribute(self, obj, attr, default):
        """Payments and attribution are not columns of the order: read them on dump (the
        attribution from whichever package decides it, ``shop.api.registry``)."""
        if attr == "payments":
            from sqlalchemy import select

            from shop.extensions import db
            from shop.payments.models import Payment

            return db.session.scalars(
                select(Payment).where(Payment.order_id == obj.id).order_by(Payment.id)
            ).all()
        if attr == "attribution":
            from shop.api.registry import order_attribution

            return order_attribution(obj)
        return super().get_attribute(obj, attr, default)


class CustomerSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    phone = fields.Function(lambda customer: _phone(customer.phone), required=True)
    city = fields.String(required=True)
    tier_id = fields.Integer(allow_none=True, required=True)
    points_balance = fields.Integer(required=True)
    referrer_id = fields.Integer(allow_none=True, required=True)
    created_at = UtcDateTime(required=True)


class CouponSchema(Schema):
    id = fields.Integer(required=True)
    template_id = fields.Integer(required=True)
    template_name = fields.Function(lambda c: c.template.name, required=True)
    customer_id = fields.Integer(required=True)
    source = fields.String(required=True)
    claimed_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(allow_none=True, required=True)
    used_order_id = fields.Integer(allow_none=True, required=True)
    used_at = UtcDateTime(allow_none=True, required=True)


class PointsEntrySchema(Schema):
    id = fields.Integer(required=True)
    customer_id = fields.Integer(required=True)
    amount = fields.Integer(required=True, metadata={"description": "Points: + credited, - taken."})
    kind = fields.String(required=True)
    order_id = fields.Integer(allow_none=True, required=True)
    expires_at = UtcDateTime(allow_none=True, required=True)
    note = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class TierSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    name_en = fields.String(required=True)
    rank = fields.Integer(required=True)
