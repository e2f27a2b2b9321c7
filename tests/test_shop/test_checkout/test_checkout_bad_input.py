"""Bad input at checkout: a clear message, nothing written, never a 500."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from shop.catalog.models import Variant
from shop.customers.identity import VISITOR_COOKIE
from shop.demo.factories import make_product
from shop.extensions import db
from shop.orders.models import Order
from tests.support.shop import checkout_form, row_counts, small_catalog

HUGE_ID = "99999999999999999999"
NO_PRODUCT = "That product does not exist."
WHOLE_NUMBER = "Quantity must be a whole number."
AT_LEAST_ONE = "Quantity must be at least 1."


@pytest.fixture
def shop(ctx):
    """A 5-unit variant, a sold-out one and an inactive product, all at one store."""
    store, _, product = small_catalog(stock_qty=5)
    sold_out = make_product("Jasmine Tea", stock_qty=0, store=store)
    hidden = make_product("Retired Tea", stock_qty=5, store=store)
    hidden.active = False
    db.session.commit()
    return {
        "store": store.id,
        "variant": product.variants[0].id,
        "sold_out": sold_out.variants[0].id,
        "inactive": hidden.variants[0].id,
    }


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


CASES = [
    ("quantity 0", {"qty": "0"}, AT_LEAST_ONE),
    ("negative quantity", {"qty": "-3"}, AT_LEAST_ONE),
    ("huge quantity", {"qty": str(10**30)}, "You can buy at most 99 at a time."),
    ("quantity not a number", {"qty": "abc"}, WHOLE_NUMBER),
    ("fractional quantity", {"qty": "1.5"}, WHOLE_NUMBER),
    ("empty quantity", {"qty": ""}, WHOLE_NUMBER),
    ("more than in stock", {"qty": "6"}, "Only 5 of Green Tea left."),
    ("unknown variant", {"variant": "987654"}, NO_PRODUCT),
    ("variant id out of range", {"variant": HUGE_ID}, NO_PRODUCT),
    ("variant id not a number", {"variant": "1; DROP TABLE orders"}, NO_PRODUCT),
    ("malformed phone", {"phone": "12345"}, "Enter a valid mobile number"),
    ("phone with letters", {"phone": "1381234abcd"}, "Enter a valid mobile number"),
    ("missing name", {"name": "  "}, "Please enter your name."),
    ("name too long", {"name": "x" * 121}, "Your name is too long."),
    (
        "delivery without address",
        {"fulfilment": "delivery", "city": "Suzhou", "address": ""},
        "Please enter the street address.",
    ),
    ("unknown fulfilment", {"fulfilment": "teleport"}, "Choose delivery or pick-up."),
    ("unknown pickup store", {"pickup_store": "987654"}, "Please choose a store to pick up from."),
    ("pickup store out of range", {"pickup_store": HUGE_ID}, "Please choose a store to pick up"),
    ("no pickup store", {"pickup_store": ""}, "Please choose a store to pick up from."),
    ("pickup store not a digit", {"pickup_store": "²"}, "Please choose a store to pick up from."),
    (
        "Stripe while it is not configured",
        {"payment_method": "stripe"},
        "That payment method is not available for this order.",
    ),
    (
        "unknown payment method",
        {"payment_method": "bitcoin"},
        "That payment method is not available for this order.",
    ),
    ("missing idempotency key", {"idempotency_key": ""}, "This form has expired."),
    ("forged idempotency key", {"idempotency_key": "' OR 1=1 --"}, "This form has expired."),
]


def test_bad_checkout_post_changes_nothing(app, shop):
    """Each case from a fresh browser (one test, so the database is built once for all)."""
    for case, overrides, message in CASES:
        before = row_counts()
        form = checkout_form(shop["variant"], shop["store"], **overrides)

        response = app.test_client().post("/checkout", data=form, follow_redirects=True)

        assert response.status_code in (200, 422), case
        assert message in _text(response), case
        assert row_counts() == before, case


def test_unbuyable_variant_is_refused(app, shop):
    for which, message in [
        ("sold_out", "Sorry, Jasmine Tea is sold out."),
        ("inactive", NO_PRODUCT),
    ]:
        before = row_counts()

        response = app.test_client().post(
            "/checkout", data=checkout_form(shop[which], shop["store"]), follow_redirects=True
        )

        assert response.status_code in (200, 422), which
        assert message in _text(response), which
        assert row_counts() == before, which


def test_sold_out_is_a_422_with_the_form_kept(client, shop):
    form = checkout_form(shop["sold_out"], shop["store"], name="Han Meimei")

    response = client.post("/checkout", data=form)

    assert response.status_code == 422
    page = _text(response)
    assert "Sorry, Jasmine Tea is sold out." in page
    assert 'value="Han Meimei"' in page
    assert f'value="{form["idempotency_key"]}"' in page


LINK_CASES = [
    ("quantity 0", {"variant": "{variant}", "qty": "0"}, AT_LEAST_ONE),
    ("quantity abc", {"variant": "{variant}", "qty": "abc"}, WHOLE_NUMBER),
    ("huge id", {"variant": HUGE_ID}, NO_PRODUCT),
    ("inactive product", {"variant": "{inactive}"}, NO_PRODUCT),
    ("empty basket", {}, "Your basket is empty."),
]


def test_bad_checkout_link_explains_and_changes_nothing(app, shop):
    for case, query, message in LINK_CASES:
        before = row_counts()
        params = {key: value.format(**shop) for key, value in query.items()}

        response = app.test_client().get("/checkout", query_string=params, follow_redirects=True)

        assert response.status_code == 200, case
        assert message in _text(response), case
        assert row_counts() == before, case


@pytest.mark.parametrize(
    ("qty", "message"),
    [("0", AT_LEAST_ONE), ("abc", WHOLE_NUMBER), ("-2", AT_LEAST_ONE), ("1.5", WHOLE_NUMBER)],
)
def test_a_bad_quantity_in_a_buy_now_link_returns_to_the_product(app, shop, qty, message):
    """The customer is back on the product they were buying, told why, not on the home page."""
    product = db.session.scalar(select(Variant).where(Variant.id == shop["variant"])).product
    client = app.test_client()

    response = client.get("/checkout", query_string={"variant": shop["variant"], "qty": qty})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/p/{product.slug}"
    page = _text(client.get(response.headers["Location"]))
    assert message in page and "Green Tea" in page


def test_a_link_to_a_product_no_longer_on_sale_returns_home(app, shop):
    response = app.test_client().get(
        "/checkout", query_string={"variant": shop["inactive"], "qty": "x"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_empty_basket_checkout_post(client, shop):
    before = row_counts()
    form = checkout_form(shop["variant"], shop["store"])
    del form["variant"], form["qty"]

    response = client.post("/checkout", data=form, follow_redirects=True)

    assert "Your basket is empty." in _text(response)
    assert row_counts() == before


BASKET_CASES = [
    ("quantity 0", {"variant": "{variant}", "qty": "0"}, AT_LEAST_ONE),
    ("huge quantity", {"variant": "{variant}", "qty": str(10**30)}, "You can buy at most 99"),
    ("huge id", {"variant": HUGE_ID, "qty": "1"}, NO_PRODUCT),
    ("unknown variant", {"variant": "987654", "qty": "1"}, NO_PRODUCT),
    ("inactive product", {"variant": "{inactive}", "qty": "1"}, NO_PRODUCT),
]


def test_bad_add_to_basket_explains_and_adds_nothing(app, shop):
    for case, form, message in BASKET_CASES:
        client = app.test_client()
        data = {key: value.format(**shop) for key, value in form.items()}

        response = client.post("/cart/add", data=data, follow_redirects=True)

        assert response.status_code == 200, case
        assert message in _text(response), case
        assert "Added to your basket." not in _text(response), case
        with client.session_transaction() as session:
            assert not session.get("cart"), case


def test_bad_basket_quantity_keeps_the_basket(client, shop):
    client.post("/cart/add", data={"variant": shop["variant"], "qty": "2"})

    response = client.post("/cart", data={f"qty_{shop['variant']}": "-1"}, follow_redirects=True)

    assert AT_LEAST_ONE in _text(response)
    with client.session_transaction() as session:
        assert session["cart"] == {str(shop["variant"]): 2}


def test_one_bad_basket_quantity_changes_no_line(client, shop):
    """The basket form is read whole before anything changes: a good line posted beside a bad
    one keeps its old quantity too."""
    client.post("/cart/add", data={"variant": shop["variant"], "qty": "2"})
    client.post("/cart/add", data={"variant": shop["sold_out"], "qty": "1"})

    response = client.post(
        "/cart",
        data={f"qty_{shop['variant']}": "3", f"qty_{shop['sold_out']}": "x"},
        follow_redirects=True,
    )

    assert WHOLE_NUMBER in _text(response)
    with client.session_transaction() as session:
        assert session["cart"] == {str(shop["variant"]): 2, str(shop["sold_out"]): 1}


def test_unknown_things_are_404_not_500(client, shop):
    for path in [
        f"/orders/{HUGE_ID}",
        "/orders/0",
        "/o/not-a-real-token",
        "/p/no-such-product",
        "/c/no-such-category",
        "/media/products/../../siyu.db",
    ]:
        assert client.get(path).status_code == 404, path


def test_a_forged_visitor_cookie_is_replaced_not_stored(client, shop):
    """A visitor id we could not have issued (longer than the column, odd characters) is no
    visitor id: the order is placed without it and the browser gets a real one."""
    client.set_cookie(VISITOR_COOKIE, "x" * 100)

    response = client.post("/checkout", data=checkout_form(shop["variant"], shop["store"]))

    assert response.status_code == 303
    assert db.session.scalars(select(Order.visitor_id)).one() is None
    assert client.get_cookie(VISITOR_COOKIE).value != "x" * 100
