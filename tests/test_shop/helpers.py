"""Shared test helpers: a small catalog and an order placed through the service."""

from __future__ import annotations

import uuid

from shop.checkout import CheckoutDetails, place_order
from shop.extensions import db
from shop.factories import make_category, make_product, make_store


def small_catalog(stock_qty: int = 10, price: int = 9900):
    store = make_store("Test Store", "Hangzhou", "1 West Lake Rd")
    category = make_category("Tea")
    product = make_product(
        "Green Tea", price=price, stock_qty=stock_qty, category=category, store=store
    )
    db.session.commit()
    return store, category, product


def details(store=None, **overrides) -> CheckoutDetails:
    values = dict(
        name="Li Lei",
        phone="13812341234",
        fulfilment="pickup",
        payment_method="store",
        pickup_store_id=store.id if store else None,
    )
    values.update(overrides)
    return CheckoutDetails(**values)


def order_for(variant, store, quantity: int = 1, **overrides):
    return place_order([(variant.id, quantity)], details(store, **overrides), uuid.uuid4().hex)
