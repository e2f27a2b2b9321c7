"""Coupons for customers: the claim page and its refusals, claiming through a share link,
checkout choosing the best coupon and saying why another does not apply, bad coupons
changing nothing, an expired unpaid order giving its coupon and points back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from distribution.factories import make_guide
from distribution.models import Visit
from distribution.sharing import link_for
from shop.catalog.models import Variant
from shop.checkout.services import quote
from shop.demo.factories import make_category, make_product
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.members.models import Coupon, CouponTemplate
from shop.orders import services as orders
from tests.support.members import (
    balance,
    buy,
    coupons_of,
    ledger_sum,
    make_customer,
    make_template,
    order_count,
    pay,
    sign_in,
    sign_in_by_code,
)
from tests.support.shop import small_catalog


@pytest.fixture
def world(ctx):
    store, category, product = small_catalog(stock_qty=50, price=9900)
    other = make_product("Teacup", price=5000, stock_qty=50, category=make_category("Teaware"))
    db.session.commit()
    return {"store": store, "category": category, "product": product, "other": other}


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_claim_page_shows_the_coupon_and_asks_strangers_to_sign_in(client, world):
    template = make_template(
        "Tea treat", "threshold", value=1000, threshold=5000, total_quantity=10, valid_days=30
    )
    page = _text(client.get(f"/coupons/{template.id}"))
    assert "Tea treat" in page
    assert "¥10.00 off on ¥50.00 or more" in page
    assert "10 of 10" in page
    assert "30 days from claiming" in page
    assert "Sign in to claim" in page

    response = client.post(f"/coupons/{template.id}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/signin?next=/coupons/{template.id}"
    assert db.session.scalar(select(Coupon.id)) is None
    assert client.get("/coupons/999999").status_code == 404


def test_signed_in_customer_claims_once(client, world):
    template = make_template("Ten off", value=1000, total_quantity=5)
    customer = make_customer()
    sign_in(client, customer)
    response = client.post(f"/coupons/{template.id}")
    assert response.status_code == 303
    (coupon,) = coupons_of(customer.id)
    assert (coupon.source, coupon.share_code, coupon.used_order_id) == ("claim", None, None)
    page = _text(client.get(f"/coupons/{template.id}"))
    assert "You have this coupon." in page
    assert "Claim this coupon" not in page and "You already have" not in page

    again = client.post(f"/coupons/{template.id}")
    assert again.status_code == 422
    assert "You already have this coupon." in _text(again)
    assert len(coupons_of(customer.id)) == 1
    db.session.expire_all()
    assert db.session.get(CouponTemplate, template.id).claimed_count == 1


def _expired():
    return make_template("Old", valid_until=utcnow() - timedelta(days=1))


def _all_claimed():
    template = make_template("Gone", total_quantity=1)
    from shop.members import coupons

    with unit_of_work():
        coupons.issue(template.id, make_customer().id)
    return template


def _new_only():
    return make_template("First order", new_customers_only=True)


def _not_claimable():
    return make_template("Staff only", claimable=False)


@pytest.mark.parametrize(
    ("make", "message", "buys_first"),
    [
        (_expired, "This coupon has expired.", False),
        (_all_claimed, "Sorry, all of these coupons have been claimed.", False),
        (_new_only, "This coupon is for new customers only.", True),
        (_not_claimable, "This coupon cannot be claimed.", False),
    ],
)
def test_refused_claims_say_why_and_change_nothing(client, world, make, message, buys_first):
    template = make()
    customer = make_customer()
    if buys_first:
        pay(buy(world["product"].variants[0], world["store"], customer))
    claimed_before = template.claimed_count
    coupons_before = len(coupons_of(customer.id))
    sign_in(client, customer)

    assert message in _text(client.get(f"/coupons/{template.id}"))
    response = client.post(f"/coupons/{template.id}")
    assert response.status_code == 422
    assert message in _text(response)
    assert len(coupons_of(customer.id)) == coupons_before
    assert db.session.get(CouponTemplate, template.id).claimed_count == claimed_before


def test_per_customer_limit_of_two(client, world):
    template = make_template("Two each", per_customer_limit=2)
    customer = make_customer()
    sign_in(client, customer)
    assert client.post(f"/coupons/{template.id}").status_code == 303
    assert client.post(f"/coupons/{template.id}").status_code == 303
    response = client.post(f"/coupons/{template.id}")
    assert response.status_code == 422
    assert "You already have 2 of this coupon, the most one customer may hold." in _text(response)
    assert [c.seq for c in coupons_of(customer.id)] == [1, 2]


def test_claim_through_a_guides_link_signs_in_comes_back_and_records_the_share_code(client, world):
    template = make_template("Guide's gift", value=2000, total_quantity=10)
    guide = make_guide(world["store"], "Li Na")
    db.session.commit()
    link = link_for(guide, "coupon", template.id, "wechat-group")

    opened = client.get(f"/s/{link.code}")
    assert opened.status_code == 302
    assert opened.headers["Location"] == f"/coupons/{template.id}"
    assert db.session.scalar(select(Visit.link_id)) == link.id

    to_sign_in = client.post(f"/coupons/{template.id}")
    next_path = f"/coupons/{template.id}"
    assert to_sign_in.headers["Location"] == f"/signin?next=/coupons/{template.id}"
    back = sign_in_by_code(client, "13912345678", next_path)
    assert back.headers["Location"] == next_path

    assert client.post(next_path).status_code == 303
    (coupon,) = db.session.scalars(select(Coupon)).all()
    assert coupon.customer.phone == "13912345678"
    assert coupon.share_code == link.code


def test_checkout_picks_the_best_coupon_and_says_why_another_does_not_apply(client, world):
    customer = make_customer()
    small = make_template("Ten off", value=1000)
    big = make_template("Twenty percent", "percent", value=2000, cap=1500)
    far = make_template("Big spender", "threshold", value=3000, threshold=20000)
    teaware = make_template(
        "Teaware only", value=2500, scope="categories", scope_ids=[world["other"].category_id]
    )
    from shop.members import coupons

    for template in (small, big, far, teaware):
        with unit_of_work():
            coupons.issue(template.id, customer.id)
    variant = world["product"].variants[0]

    basket = quote([(variant.id, 1)], customer_id=customer.id, coupon="best")
    assert basket.coupon.template_id == big.id
    assert basket.coupon_discount == 1500  # 20% of 99.00 is 19.80, capped at 15.00
    reasons = {o.coupon.template_id: o.reason for o in basket.coupon_options}
    assert reasons[small.id] is None
    assert reasons[far.id] == "Spend at least ¥200.00 on eligible items to use this coupon."
    assert reasons[teaware.id] == "None of the items in this order are covered by this coupon."

    sign_in(client, customer)
    page = _text(client.get(f"/checkout?variant={variant.id}&qty=1"))
    assert "Coupon: Twenty percent" in page
    assert "Big spender: Spend at least ¥200.00 on eligible items to use this coupon." in page
    assert "−¥15.00" in page


def _bad_coupon(world, customer, kind):
    from shop.members import coupons

    if kind == "expired":
        template = make_template("Short", valid_days=1)
        with unit_of_work():
            coupon = coupons.issue(template.id, customer.id, now=utcnow() - timedelta(days=2))
        return coupon.id, "This coupon has expired."
    if kind == "used":
        template = make_template("Once")
        with unit_of_work():
            coupon = coupons.issue(template.id, customer.id)
        first = buy(world["product"].variants[0], world["store"], customer, coupon=coupon.id)
        assert first.coupon_id == coupon.id
        return coupon.id, "This coupon has already been used."
    if kind == "out of scope":
        template = make_template("Teaware only", scope="products", scope_ids=[world["other"].id])
        with unit_of_work():
            coupon = coupons.issue(template.id, customer.id)
        return coupon.id, "None of the items in this order are covered by this coupon."
    someone = make_customer()
    with unit_of_work():
        coupon = coupons.issue(make_template("Theirs").id, someone.id)
    return coupon.id, "This coupon belongs to someone else."


@pytest.mark.parametrize("kind", ["expired", "used", "out of scope", "someone else's"])
def test_a_bad_coupon_gives_a_clear_message_and_changes_nothing(world, kind):
    customer = make_customer(points_=500)
    coupon_id, message = _bad_coupon(world, customer, kind)
    variant = world["product"].variants[0]
    before = (order_count(), db.session.get(Variant, variant.id).stock, balance(customer.id))
    used_before = db.session.get(Coupon, coupon_id).used_order_id

    with pytest.raises(InvalidInput) as refused:
        buy(variant, world["store"], customer, coupon=coupon_id, points=100)

    assert refused.value.message == message
    db.session.expire_all()
    after = (order_count(), db.session.get(Variant, variant.id).stock, balance(customer.id))
    assert after == before
    assert db.session.get(Coupon, coupon_id).used_order_id == used_before


def test_a_bad_coupon_at_checkout_over_http_is_explained(client, world):
    from shop.members import coupons

    customer = make_customer()
    template = make_template("Short", valid_days=1)
    with unit_of_work():
        coupon = coupons.issue(template.id, customer.id, now=utcnow() - timedelta(days=2))
    variant = world["product"].variants[0]
    sign_in(client, customer)
    response = client.post(
        "/checkout",
        data={
            "variant": variant.id,
            "qty": 1,
            "phone": customer.phone,
            "name": customer.name,
            "fulfilment": "pickup",
            "pickup_store": world["store"].id,
            "payment_method": "store",
            "coupon": coupon.id,
            "idempotency_key": "k" * 32,
        },
    )
    assert response.status_code == 422
    assert "This coupon has expired." in _text(response)
    assert order_count() == 0


def test_spending_more_points_than_held_is_refused_and_changes_nothing(world):
    customer = make_customer(points_=100)
    variant = world["product"].variants[0]
    with pytest.raises(InvalidInput) as refused:
        buy(variant, world["store"], customer, points=101)
    assert refused.value.message == "You do not have enough points."
    assert order_count() == 0
    assert balance(customer.id) == ledger_sum(customer.id) == 100


def test_an_unpaid_order_that_expires_gives_its_coupon_and_points_back(world):
    from shop.members import coupons

    customer = make_customer(points_=300)
    with unit_of_work():
        coupon = coupons.issue(make_template("Ten off", value=1000).id, customer.id)
    order = buy(world["product"].variants[0], world["store"], customer, coupon="best", points=200)
    assert (order.coupon_id, order.coupon_discount, order.points_spent) == (coupon.id, 1000, 200)
    assert order.total == 9900 - 1000 - 200
    assert balance(customer.id) == 100
    assert db.session.get(Coupon, coupon.id).used_order_id == order.id

    order.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    with unit_of_work():
        assert orders.expire(order.id)

    db.session.expire_all()
    assert db.session.get(Coupon, coupon.id).used_order_id is None
    assert balance(customer.id) == ledger_sum(customer.id) == 300
    again = buy(world["product"].variants[0], world["store"], customer, coupon=coupon.id)
    assert again.coupon_id == coupon.id


def test_a_coupon_is_named_in_the_readers_language(app):
    """Staff name a coupon in Chinese and in English; each reader sees theirs (an empty
    English name shows the Chinese one)."""
    with app.app_context():
        welcome = make_template("新人礼：满 50 减 10", name_en="Welcome: ¥10 off ¥50").id
        plain = make_template("感谢券").id
    for language, expected in (("zh-CN", "新人礼：满 50 减 10"), ("en", "Welcome: ¥10 off ¥50")):
        page = _text(
            app.test_client().get(f"/coupons/{welcome}", headers={"Accept-Language": language})
        )
        assert f"<h1>{expected}</h1>" in page
    english = app.test_client().get(f"/coupons/{plain}", headers={"Accept-Language": "en"})
    assert "<h1>感谢券</h1>" in _text(english)


def test_the_order_page_names_the_coupon_it_used(app):
    """The customer's order page says which coupon took its amount off, in their language;
    the admin's order page breaks the discount down the same way."""
    from shop.members import coupons
    from tests.support.shop import make_owner

    with app.app_context():
        store, _category, product = small_catalog(stock_qty=5, price=9900)
        customer = make_customer(points_=300)
        template = make_template("新人礼：满 50 减 10", name_en="Welcome: ¥10 off ¥50", value=1000)
        with unit_of_work():
            coupons.issue(template.id, customer.id)
        order = buy(product.variants[0], store, customer, coupon="best", points=200)
        token, order_id = order.token, order.id
        make_owner("owner@test")
        db.session.commit()
    for language, expected in (
        ("zh-CN", "优惠券（新人礼：满 50 减 10）"),
        ("en", "Coupon (Welcome: ¥10 off ¥50)"),
    ):
        page = app.test_client().get(f"/o/{token}", headers={"Accept-Language": language})
        assert expected in _text(page)
    staff = app.test_client()
    staff.post("/admin/login", data={"email": "owner@test", "password": "correct horse battery"})
    details = _text(
        staff.get(f"/admin/orders/details/?id={order_id}", headers={"Accept-Language": "zh-CN"})
    )
    assert "¥12.00（优惠券「新人礼：满 50 减 10」¥10.00；200 积分 ¥2.00）" in details
