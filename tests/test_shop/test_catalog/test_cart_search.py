from shop.catalog.models import Product
from shop.demo.factories import make_product
from shop.extensions import db
from tests.support.shop import small_catalog


def test_unavailable_item_leaves_the_rest_of_the_cart(client, app):
    with app.app_context():
        _store, _category, product = small_catalog()
        gone = make_product("Old Tea", price=500, stock_qty=3)
        db.session.commit()
        keep, drop, gone_id = product.variants[0].id, gone.variants[0].id, gone.id
    client.post("/cart/add", data={"variant": keep, "qty": 2})
    client.post("/cart/add", data={"variant": drop, "qty": 1})
    with app.app_context():
        db.session.get(Product, gone_id).active = False
        db.session.commit()
    page = client.get("/cart").get_data(as_text=True)
    assert "no longer available" in page
    assert "Green Tea" in page and "Old Tea" not in page
    with client.session_transaction() as session:
        assert session["cart"] == {str(keep): 2}


def test_search_ignores_description_markup(client, app):
    with app.app_context():
        small_catalog()
        make_product("Silk Scarf", description="<p><strong>Soft</strong></p>")
        db.session.commit()
    assert "Silk Scarf" not in client.get("/search?q=strong").get_data(as_text=True)
    assert "Green Tea" in client.get("/search?q=tea").get_data(as_text=True)
