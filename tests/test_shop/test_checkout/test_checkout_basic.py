import pytest
from sqlalchemy import event, select

from shop.catalog.models import StockMovement, Variant
from shop.customers.models import Customer
from shop.extensions import db
from shop.infra import outbox
from shop.orders.models import Order
from tests.support.shop import PICKUP_PHONE, order_for, small_catalog


def test_place_order_reserves_stock(ctx):
    store, _, product = small_catalog(stock_qty=5)
    variant = product.variants[0]
    order = order_for(variant, store, quantity=2)
    assert order.total == 2 * 9900
    assert db.session.get(Variant, variant.id).stock == 3
    reasons = db.session.scalars(select(StockMovement.reason).order_by(StockMovement.id)).all()
    assert reasons == ["initial", "reserve"]
    assert db.session.scalar(select(Order.status)) == "awaiting_payment"


@pytest.fixture
def undelivered(monkeypatch):
    """The outbox events an order owes (order.placed, customer.created) stay undelivered:
    their delivery, in-process here, is other transactions than the order's."""
    monkeypatch.setattr(outbox, "dispatch", lambda *args, **kwargs: None)


def test_an_order_is_placed_in_one_transaction_and_not_read_back(ctx, undelivered):
    store, _, product = small_catalog(stock_qty=5)
    variant = product.variants[0]
    statements, commits = [], []

    def on_execute(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def on_commit(_conn):
        commits.append(len(statements))

    event.listen(db.engine, "before_cursor_execute", on_execute)
    event.listen(db.engine, "commit", on_commit)
    try:
        order = order_for(variant, store, quantity=2)
        sent = len(statements)
        assert (order.status, order.total, order.phone) == ("awaiting_payment", 19800, PICKUP_PHONE)
        assert order.token and order.expires_at > order.created_at
        read_back = statements[sent:]
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
        event.remove(db.engine, "commit", on_commit)

    assert commits == [sent]  # customer, order, lines, stock: one commit, after the last write
    assert read_back == []  # the order returned holds what was written
    assert db.session.get(Variant, variant.id).stock == 3
    assert [line.quantity for line in db.session.get(Order, order.id).lines] == [2]


def test_an_order_from_a_known_browser_is_still_one_transaction(ctx, undelivered):
    """The customer's first device is remembered inside the order's transaction."""
    store, _, product = small_catalog(stock_qty=5)
    commits = []

    def on_commit(_conn):
        commits.append(1)

    event.listen(db.engine, "commit", on_commit)
    try:
        order = order_for(product.variants[0], store, attribution={"visitor_id": "browser-1"})
    finally:
        event.remove(db.engine, "commit", on_commit)

    assert commits == [1]
    customer = db.session.get(Customer, order.customer_id)
    assert customer.first_visitor_id == "browser-1"


def test_a_known_customer_s_blank_name_and_address_are_filled_in_not_overwritten(ctx):
    store, _, product = small_catalog(stock_qty=5)
    signed_in = Customer(phone="13700001111")  # signed in by code: no name yet
    named = Customer(phone="13700002222", name="Wang Li", city="Suzhou", address="1 Pond Rd")
    db.session.add_all([signed_in, named])
    db.session.commit()
    variant = product.variants[0]

    order_for(variant, store, phone="13700001111", name="Qian Hui", customer_id=signed_in.id)
    order_for(
        variant,
        store,
        phone="13700002222",
        name="Someone Else",
        fulfilment="delivery",
        city="Hangzhou",
        address="9 Lake Rd",
    )
    db.session.expire_all()
    assert db.session.get(Customer, signed_in.id).name == "Qian Hui"
    kept = db.session.get(Customer, named.id)
    assert (kept.name, kept.city, kept.address) == ("Wang Li", "Suzhou", "1 Pond Rd")
