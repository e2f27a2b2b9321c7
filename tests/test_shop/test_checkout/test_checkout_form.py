"""The one-page checkout: a replayed form makes one order, and prices come from the server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shop.catalog.models import Variant
from shop.demo.factories import make_product, make_store
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders.models import Order, OrderLine
from shop.signals import order_placed
from tests.support.shop import checkout_form, small_catalog

# The fields of a delivery to Suzhou (a region of shop.customers.regions).
TO_SUZHOU = dict(
    fulfilment="delivery", province="江苏省", city="苏州市", district="姑苏区", address="8 Canal St"
)


def test_double_submitted_checkout_makes_one_order(client, ctx):
    store, _, product = small_catalog(stock_qty=5)
    variant = product.variants[0]
    form = checkout_form(variant.id, store.id, qty="2")

    placed = []
    with order_placed.connected_to(lambda _app, order_id: placed.append(order_id)):
        first = client.post("/checkout", data=form)
        second = client.post("/checkout", data=form)

    order = db.session.scalars(select(Order)).one()
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"] == f"/o/{order.token}"
    assert db.session.get(Variant, variant.id).stock == 3
    assert placed == [order.id]
    assert client.get(second.headers["Location"]).status_code == 200


def test_tampered_price_fields_are_ignored(client, ctx):
    store, _, product = small_catalog(stock_qty=5, price=9900)
    variant = product.variants[0]
    form = checkout_form(
        variant.id,
        store.id,
        qty="2",
        price="1",
        unit_price="1",
        line_total="1",
        subtotal="1",
        discount="9999999",
        shipping="0",
        total="1",
        currency="JPY",
    )

    response = client.post("/checkout", data=form)

    assert response.status_code == 303
    order = db.session.scalars(select(Order)).one()
    assert (order.subtotal, order.discount, order.shipping, order.total) == (19800, 0, 0, 19800)
    assert order.currency == "CNY"
    line = order.lines[0]
    assert (line.unit_price, line.quantity, line.line_total) == (9900, 2, 19800)


def _green_tea_at_66_for_an_hour():
    """Green Tea (¥99) with a limited-time ¥66 that runs for another hour; its store too."""
    store, _, product = small_catalog(stock_qty=5, price=9900)
    variant = product.variants[0]
    variant.sale_price = 6600
    variant.sale_starts_at = utcnow() - timedelta(hours=1)
    variant.sale_ends_at = utcnow() + timedelta(hours=1)
    db.session.commit()
    return store, variant


def test_limited_time_price_is_charged_while_it_runs(client, ctx):
    store, variant = _green_tea_at_66_for_an_hour()

    assert client.post("/checkout", data=checkout_form(variant.id, store.id)).status_code == 303
    assert db.session.scalar(select(OrderLine.unit_price)) == 6600


def test_delivery_below_the_free_threshold_adds_the_fee(client, ctx, app):
    store, _, product = small_catalog(stock_qty=5, price=3000)
    form = checkout_form(
        product.variants[0].id,
        store.id,
        **TO_SUZHOU,
        shipping="0",
    )

    assert client.post("/checkout", data=form).status_code == 303
    order = db.session.scalars(select(Order)).one()
    assert order.shipping == app.config["SHIPPING_FEE"]
    assert order.total == 3000 + app.config["SHIPPING_FEE"]
    assert (order.province, order.city, order.district) == ("江苏省", "苏州市", "姑苏区")
    assert order.store_id == store.id  # no share link: the default store (the only one)


def test_cart_checkout_prices_every_line_and_empties_the_cart(client, ctx):
    store, _, tea = small_catalog(stock_qty=5, price=1000)
    cup = make_product("Cup", price=2500, stock_qty=5, store=store)
    db.session.commit()
    client.post("/cart/add", data={"variant": tea.variants[0].id, "qty": "2"})
    client.post("/cart/add", data={"variant": cup.variants[0].id, "qty": "1"})

    page = client.get("/checkout")
    assert page.status_code == 200
    form = checkout_form(0, store.id, price="1")
    del form["variant"], form["qty"]
    assert client.post("/checkout", data=form).status_code == 303

    order = db.session.scalars(select(Order)).one()
    assert sorted((ln.sku, ln.quantity, ln.line_total) for ln in order.lines) == sorted(
        [(tea.variants[0].sku, 2, 2000), (cup.variants[0].sku, 1, 2500)]
    )
    assert order.total == 4500
    with client.session_transaction() as session:
        assert session["cart"] == {}
    assert db.session.scalar(select(func.count(OrderLine.id))) == 2


def test_a_placed_checkout_asks_for_its_pickup_store_once(ctx, client):
    """The view checks the details before placing and placing checks them again: the store is
    read once for both (statement-count guard)."""
    from sqlalchemy import event

    store, variant, _product = small_catalog()
    db.session.commit()
    sent = []

    def statement(*args):
        sent.append(args[2])

    event.listen(db.engine, "before_cursor_execute", statement)
    try:
        response = client.post("/checkout", data=checkout_form(variant.id, store.id))
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)

    assert response.status_code == 303 and "/o/" in response.headers["Location"]
    assert len([s for s in sent if s.lstrip().startswith("SELECT stores.city")]) == 1


def test_the_checkout_form_translates_no_default_labels(app, monkeypatch):
    """Storefront templates write their own labels: building the form looks up no translation
    (the default labels once cost one per field per request)."""
    import flask_wtf.i18n

    from shop.checkout.forms import CheckoutForm

    looked_up = []
    original = flask_wtf.i18n._get_translations

    def counting():
        looked_up.append(1)
        return original()

    monkeypatch.setattr(flask_wtf.i18n, "_get_translations", counting)
    with app.test_request_context("/checkout", method="POST", data={"variant": "1"}):
        form = CheckoutForm()
    assert looked_up == []
    assert form.variant.data == 1 and form.name.label.text == ""


def _hidden(html: str, name: str) -> str:
    """The value of the page's hidden field ``name`` (what it posts back)."""
    return html.split(f'name="{name}" value="', 1)[1].split('"', 1)[0]


def _seen_prices(html: str) -> str:
    return _hidden(html, "seen_prices")


def _seen_totals(html: str) -> str:
    return _hidden(html, "seen_totals")


def test_a_price_that_rose_since_the_page_showed_it_is_refused_and_nothing_is_placed(client, ctx):
    """The checkout page showed a limited-time ¥66, which ended before the buyer submitted:
    the order is refused with the new price, and placed once they submit the page again."""
    store, variant = _green_tea_at_66_for_an_hour()
    page = client.get(f"/checkout?variant={variant.id}").get_data(as_text=True)
    assert _seen_prices(page).split() == [f"{variant.id}:6600"]

    variant.sale_ends_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    form = checkout_form(variant.id, store.id, seen_prices=_seen_prices(page))
    refused = client.post("/checkout", data=form)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Green Tea now costs ¥99.00, up from the ¥66.00 shown. Check" in html
    assert db.session.scalar(select(func.count(Order.id))) == 0
    assert db.session.get(Variant, variant.id).stock == 5

    again = client.post("/checkout", data={**form, "seen_prices": _seen_prices(html)})
    assert again.status_code == 303
    assert db.session.scalar(select(OrderLine.unit_price)) == 9900


@pytest.mark.parametrize(
    "seen",
    ["{id}:12000", "{id}:1 x:y", "{id}:1:2", "{id}"],
    ids=["a price that fell", "not all pairs of numbers", "a triple", "no price"],
)
def test_seen_prices_that_show_no_rise_place_the_order_at_the_price_now(client, ctx, seen):
    """A price that fell since the page showed it is charged as it is now; a field that is
    not all ``variant:price`` pairs is read as none, and refuses nothing."""
    store, _, product = small_catalog(stock_qty=5, price=9900)
    variant = product.variants[0]
    form = checkout_form(variant.id, store.id, seen_prices=seen.format(id=variant.id))
    assert client.post("/checkout", data=form).status_code == 303
    assert db.session.scalar(select(OrderLine.unit_price)) == 9900


def test_every_line_that_rose_is_named_and_a_field_error_does_not_hide_a_rise(client, ctx):
    """A basket of two, both dearer than the page showed; the form also lacks a phone."""
    store, _, product = small_catalog(stock_qty=5, price=9900)
    other = make_product("Oolong", price=5900, stock_qty=5, store=store)
    db.session.commit()
    tea, oolong = product.variants[0], other.variants[0]
    with client.session_transaction() as browser:
        browser["cart"] = {str(tea.id): 1, str(oolong.id): 2}
    page = client.get("/checkout").get_data(as_text=True)
    assert sorted(_seen_prices(page).split()) == sorted([f"{tea.id}:9900", f"{oolong.id}:5900"])
    tea.price, oolong.price = 10900, 6900
    db.session.commit()

    assert '<a href="/cart">Change the basket</a>' in page  # no quantity to change here
    form = {**checkout_form(None, store.id), "variant": "", "seen_prices": _seen_prices(page)}
    html = client.post("/checkout", data=form).get_data(as_text=True)
    assert "Green Tea now costs ¥109.00, up from the ¥99.00 shown; " in html
    assert "Oolong now costs ¥69.00, up from the ¥59.00 shown" in html
    assert db.session.scalar(select(func.count(Order.id))) == 0

    missing_phone = client.post("/checkout", data={**form, "phone": ""})
    assert missing_phone.status_code == 422
    assert "Green Tea now costs ¥109.00" in missing_phone.get_data(as_text=True)


def test_a_replayed_form_whose_order_was_placed_returns_it_whatever_the_prices_now(client, ctx):
    store, _, product = small_catalog(stock_qty=5, price=9900)
    variant = product.variants[0]
    form = checkout_form(variant.id, store.id, seen_prices=f"{variant.id}:9900")
    first = client.post("/checkout", data=form)
    variant.price = 10900
    db.session.commit()
    again = client.post("/checkout", data=form)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert db.session.scalar(select(func.count(Order.id))) == 1


def test_in_chinese_the_rises_read_as_one_sentence(app):
    with app.app_context():
        store, _, product = small_catalog(stock_qty=5, price=9900)
        other = make_product("Oolong", price=5900, stock_qty=5, store=store)
        db.session.commit()
        ids = store.id, product.variants[0].id, other.variants[0].id
    store_id, tea, oolong = ids
    client = app.test_client()
    with client.session_transaction() as browser:
        browser["cart"] = {str(tea): 1, str(oolong): 1}
    form = {**checkout_form(None, store_id), "variant": ""}
    form["seen_prices"] = f"{tea}:9000 {oolong}:5000"
    chinese = client.post("/checkout", data=form, headers={"Accept-Language": "zh-CN"})
    assert (
        "Green Tea 现价 ¥99.00，高于页面显示的 ¥90.00；Oolong 现价 ¥59.00，高于页面显示的 "
        "¥50.00。请核对新的合计后重新提交订单。"
    ) in chinese.get_data(as_text=True)


def test_a_visitor_is_asked_to_sign_in_for_coupons_in_one_sentence(client, ctx):
    """The sign-in link sits inside the sentence, in Chinese without a space after it."""
    _store, _, product = small_catalog(stock_qty=5, price=9900)
    page = f"/checkout?variant={product.variants[0].id}"
    chinese = client.get(page, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert '">登录</a>后可使用优惠券和积分。</p>' in chinese


def test_an_order_whose_total_is_not_the_one_shown_is_refused_and_shown_again(client, ctx):
    """A member's "Buy now" page for 2 shows the ¥10 coupon (spend ¥50) and ¥66.00; they type
    1 and submit without the page pricing it again: the coupon no longer applies, so the order
    would cost ¥38.00, a total they were not shown. It is refused, nothing is placed, and the
    page shows the new total; submitted again, the order is placed at it."""
    from shop.infra.unit_of_work import unit_of_work
    from shop.members import coupons
    from tests.support.members import make_customer, make_template, sign_in

    store, _, product = small_catalog(stock_qty=5, price=3800)
    variant = product.variants[0]
    customer = make_customer("Han Mei")
    template = make_template("Ten off fifty", "threshold", value=1000, threshold=5000)
    with unit_of_work():
        coupons.issue(template.id, customer.id)
    sign_in(client, customer)
    page = client.get(f"/checkout?variant={variant.id}&qty=2").get_data(as_text=True)
    assert "−¥10.00" in page
    assert _seen_totals(page) == "pickup:6600 delivery:7600"  # with the ¥10 delivery fee

    form = checkout_form(
        variant.id, store.id, phone=customer.phone, qty="1", seen_totals=_seen_totals(page)
    )
    refused = client.post("/checkout", data=form)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "The total is now ¥38.00, not the ¥66.00 shown." in html
    assert db.session.scalar(select(func.count(Order.id))) == 0
    assert db.session.get(Variant, variant.id).stock == 5
    assert _seen_totals(html).startswith("pickup:3800 ")

    placed = client.post("/checkout", data={**form, "seen_totals": _seen_totals(html)})
    assert placed.status_code == 303
    assert db.session.scalar(select(Order.total)) == 3800


@pytest.mark.parametrize("fulfilment", ["pickup", "delivery"])
def test_the_totals_the_page_shows_are_the_ones_charged(client, ctx, fulfilment):
    """The page's totals for pick-up and delivery (with its fee) are what the order costs:
    submitted as shown, each is placed."""
    store, _, product = small_catalog(stock_qty=5, price=3800)
    variant = product.variants[0]
    page = client.get(f"/checkout?variant={variant.id}").get_data(as_text=True)
    seen = dict(pair.split(":") for pair in _seen_totals(page).split())
    form = checkout_form(variant.id, store.id, seen_totals=_seen_totals(page))
    if fulfilment == "delivery":
        form.update(TO_SUZHOU)
    assert client.post("/checkout", data=form).status_code == 303
    assert db.session.scalar(select(Order.total)) == int(seen[fulfilment])
    assert int(seen["delivery"]) > int(seen["pickup"])  # the delivery fee, below the threshold


def test_in_chinese_a_changed_total_reads_as_one_sentence(app):
    from shop.checkout.services import Quote, QuoteLine, total_change

    basket = Quote(lines=[QuoteLine(variant=None, quantity=1, unit_price=3800)], currency="CNY")
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert total_change(basket, 6600) == (
            "合计现为 ¥38.00，与页面显示的 ¥66.00 不同。请核对后重新提交订单。"
        )
        assert total_change(basket, 3800) is None and total_change(basket, None) is None


def test_back_on_buy_now_after_ordering_the_page_says_the_order_was_just_placed(client, ctx):
    """Back on the "Buy now" page of an order just placed, the page says so (a second submit
    is a second order, as the customer may mean); other items or quantities say nothing."""
    store, _, product = small_catalog(stock_qty=5)
    variant = product.variants[0]
    placed = client.post("/checkout", data=checkout_form(variant.id, store.id, qty="2"))
    order = db.session.scalar(select(Order))
    assert placed.headers["Location"].endswith(f"/o/{order.token}")

    again = client.get(f"/checkout?variant={variant.id}&qty=2").get_data(as_text=True)
    notice = f'You just placed order <a href="/o/{order.token}">{order.number}</a>'
    assert again.count(notice) == 2  # at the top, and by the button (back keeps the scroll)
    other = client.get(f"/checkout?variant={variant.id}&qty=1").get_data(as_text=True)
    assert "You just placed" not in other


def test_a_refusal_names_the_variant_in_the_readers_language(app):
    """A price rise and a stock-out name the product and its variant as the reader reads
    them: "Celadon cups Pair" in English, "青瓷茶杯 两只装" in Chinese."""
    with app.app_context():
        store = make_store("Test Store", "Hangzhou", "1 West Lake Rd")
        cups = make_product(
            "青瓷茶杯",
            name_en="Celadon cups",
            store=store,
            variants=[("单只", 6800, 5, "Single"), ("两只装", 12800, 1, "Pair")],
        )
        db.session.commit()
        pair, store_id = cups.variants[1].id, store.id
    for language, rise, short in (
        ("en", "Celadon cups Pair now costs ¥128.00", "Only 1 of Celadon cups Pair left."),
        ("zh-CN", "青瓷茶杯 两只装 现价 ¥128.00", "青瓷茶杯 两只装 仅剩 1 件。"),
    ):
        client = app.test_client()
        headers = {"Accept-Language": language}
        form = checkout_form(pair, store_id, seen_prices=f"{pair}:9900")
        assert rise in client.post("/checkout", data=form, headers=headers).get_data(as_text=True)
        form = checkout_form(pair, store_id, qty="2")
        assert short in client.post("/checkout", data=form, headers=headers).get_data(as_text=True)


def test_a_members_delivery_is_priced_without_the_pick_up_stores_coupons(client, ctx):
    """A coupon for one store's pick-ups does not apply to a delivery: the page priced for
    delivery shows the total without it, and the order placed at that total goes through
    (the page used to price a delivery with the pick-up store still chosen)."""
    from shop.infra.unit_of_work import unit_of_work
    from shop.members import coupons
    from tests.support.members import make_customer, make_template, sign_in

    store, _, product = small_catalog(stock_qty=5, price=3800)
    variant = product.variants[0]
    customer = make_customer("Han Mei")
    template = make_template("Store ten", value=1000, scope="stores", scope_ids=[store.id])
    with unit_of_work():
        coupons.issue(template.id, customer.id)
    sign_in(client, customer)
    picking_up = client.get(f"/checkout?variant={variant.id}").get_data(as_text=True)
    assert _seen_totals(picking_up) == "pickup:2800 delivery:3800"  # the coupon, and the fee
    form = checkout_form(variant.id, store.id, phone=customer.phone, action="update", **TO_SUZHOU)
    priced = client.post("/checkout", data=form).get_data(as_text=True)
    assert _seen_totals(priced) == "pickup:3800 delivery:4800"
    form.update(action="", seen_totals=_seen_totals(priced))
    assert client.post("/checkout", data=form).status_code == 303
    order = db.session.scalar(select(Order))
    assert (order.total, order.coupon_discount, order.shipping) == (4800, 0, 1000)
