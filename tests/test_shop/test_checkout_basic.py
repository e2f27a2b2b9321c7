from sqlalchemy import select

from shop.extensions import db
from shop.models import Order, StockMovement, Variant

from .helpers import order_for, small_catalog


def test_place_order_reserves_stock(ctx):
    store, _, product = small_catalog(stock_qty=5)
    variant = product.variants[0]
    order = order_for(variant, store, quantity=2)
    assert order.total == 2 * 9900
    assert db.session.get(Variant, variant.id).stock == 3
    reasons = db.session.scalars(select(StockMovement.reason).order_by(StockMovement.id)).all()
    assert reasons == ["initial", "reserve"]
    assert db.session.scalar(select(Order.status)) == "awaiting_payment"
