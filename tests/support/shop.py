"""Shared test helpers: a small catalog and an order placed through the service."""

from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager

from sqlalchemy import func, select
from werkzeug.serving import make_server

from shop.catalog.models import StockMovement
from shop.checkout.services import CheckoutDetails, place_order
from shop.demo.factories import make_category, make_product, make_staff, make_store
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.orders.models import Order
from shop.staff.models import Role


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


def refund_now(order_id: int, quantities: dict[int, int], **options):
    """A refund as the admin makes it: requested in one unit of work, then settled (through
    Stripe, when Stripe took the money). Returns the refund as it then stands."""
    from shop.orders import services as orders

    with unit_of_work():
        record = orders.refund(order_id, quantities, **options)
    return orders.settle_refund(record.id)


def order_for(variant, store, quantity: int = 1, **overrides):
    with unit_of_work() as work:  # as the checkout places it
        order = place_order([(variant.id, quantity)], details(store, **overrides), uuid.uuid4().hex)
        work.keep(order)
    return order


PICKUP_PHONE = "13812341234"


def checkout_form(variant_id: int, store_id: int, **overrides) -> dict:
    """The fields the one-page checkout posts for a pick-up, pay-at-store "Buy now"."""
    form = {
        "variant": str(variant_id),
        "qty": "1",
        "phone": PICKUP_PHONE,
        "name": "Li Lei",
        "fulfilment": "pickup",
        "pickup_store": str(store_id),
        "payment_method": "store",
        "idempotency_key": uuid.uuid4().hex,
    }
    form.update(overrides)
    return form


def make_owner(email: str = "owner@example.com"):
    """A staff member with the owner role, committed."""
    staff = make_staff(email, "correct horse battery", role=Role.OWNER)
    db.session.commit()
    return staff


def row_counts() -> tuple[int, int]:
    """How many orders and stock movements exist (a failed checkout must add neither)."""
    return (
        db.session.scalar(select(func.count(Order.id))),
        db.session.scalar(select(func.count(StockMovement.id))),
    )


@contextmanager
def serve(app):
    """Serve ``app`` over HTTP on 127.0.0.1 (a free port) from a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def stripe_checkout(client, variant_id: int, store_id: int, **overrides):
    """Buy through the one-page checkout paying with Stripe; returns (response, order)."""
    form = checkout_form(variant_id, store_id, payment_method="stripe", **overrides)
    response = client.post("/checkout", data=form)
    order = db.session.scalar(
        select(Order)
        .where(Order.idempotency_key == form["idempotency_key"])
        .execution_options(populate_existing=True)
    )
    return response, order


@contextmanager
def received(signal):
    """The order ids ``signal`` carries while the block runs (from any thread)."""
    order_ids: list[int] = []

    def receiver(_sender, order_id, **_kwargs):
        order_ids.append(order_id)

    with signal.connected_to(receiver):
        yield order_ids
