from shop.catalog.models import Product
from shop.demo.factories import make_image, make_product
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


def test_basket_lines_have_a_thumbnail_and_a_remove_button(client, app):
    with app.app_context():
        _store, _category, product = small_catalog()
        make_image(product, (80, 120, 60))
        cup = make_product("Celadon Cup", price=2500, stock_qty=5)
        db.session.commit()
        tea, cup_variant = product.variants[0].id, cup.variants[0].id
        picture = product.images[0].filename
    client.post("/cart/add", data={"variant": tea, "qty": 2})
    client.post("/cart/add", data={"variant": cup_variant, "qty": 1})
    page = client.get("/cart").get_data(as_text=True)
    assert f'src="/media/products/{picture}"' in page
    assert f'name="remove" value="{tea}"' in page and f'name="remove" value="{cup_variant}"' in page

    # the remove button posts the whole form: the other line keeps its (changed) quantity
    response = client.post(
        "/cart", data={f"qty_{tea}": "2", f"qty_{cup_variant}": "3", "remove": str(tea)}
    )
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert session["cart"] == {str(cup_variant): 3}
    page = client.get("/cart").get_data(as_text=True)
    assert "Celadon Cup" in page and "Green Tea" not in page


def test_removing_a_line_not_in_the_basket_changes_nothing(client, app):
    with app.app_context():
        _store, _category, product = small_catalog()
        tea = product.variants[0].id
    client.post("/cart/add", data={"variant": tea, "qty": 1})
    client.post("/cart", data={"remove": "999999"})
    with client.session_transaction() as session:
        assert session["cart"] == {str(tea): 1}
