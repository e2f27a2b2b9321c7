"""Delivery addresses: picked from China's regions, checked, remembered for a signed-in
customer and offered at their next checkout; every problem of the details is named by field."""

from __future__ import annotations

from shop.checkout.services import detail_problems
from shop.customers import regions
from shop.customers.models import CustomerAddress
from shop.extensions import db
from shop.orders.models import Order
from tests.support.members import make_customer, sign_in
from tests.support.shop import checkout_form, details, small_catalog

GUANGZHOU = {"province": "广东省", "city": "广州市", "district": "天河区"}
BEIJING = {"province": "北京市", "city": "北京市", "district": "朝阳区"}


def test_regions_ship_with_the_project_and_municipalities_read_naturally():
    assert len(regions.provinces()) == 31
    assert regions.is_region(**GUANGZHOU)
    assert regions.is_region(**BEIJING)
    assert regions.cities("重庆市") == ["重庆市"]
    assert not regions.is_region("广东省", "广州市", "朝阳区")
    assert regions.build({"上海市": {"市辖区": ["黄浦区"]}}) == {"上海市": {"上海市": ["黄浦区"]}}


def test_every_problem_is_named_by_its_field(ctx):
    problems = detail_problems(
        details(None, name=" ", phone="123", fulfilment="delivery", payment_method="bitcoin")
    )
    assert set(problems) == {"name", "phone", "city", "address", "payment_method"}
    problems = detail_problems(
        details(None, fulfilment="delivery", address="1 Rd", **{**GUANGZHOU, "district": "朝阳区"})
    )
    assert set(problems) == {"district"}


def test_a_signed_in_customers_address_is_offered_again(client, ctx):
    store, _, product = small_catalog(stock_qty=10, price=3000)
    customer = make_customer("Zhou Yu", phone="13812341234")
    sign_in(client, customer)
    variant = product.variants[0].id
    for place, address in ((BEIJING, "1 Chaoyang Rd"), (GUANGZHOU, "88 Tianhe Rd")):
        form = checkout_form(variant, store.id, fulfilment="delivery", address=address, **place)
        assert client.post("/checkout", data=form).status_code == 303
    saved = db.session.query(CustomerAddress).filter_by(customer_id=customer.id).all()
    assert len(saved) == 2

    page = client.get(f"/checkout?variant={variant}").get_data(as_text=True)
    assert "88 Tianhe Rd" in page and "1 Chaoyang Rd" in page
    assert 'value="88 Tianhe Rd"' in page  # the latest fills the fields

    # Without JavaScript: choosing the other saved address and placing the order uses it.
    beijing = next(a for a in saved if a.district == "朝阳区")
    latest = next(a for a in saved if a.district == "天河区")
    form = checkout_form(
        variant,
        store.id,
        fulfilment="delivery",
        address="88 Tianhe Rd",
        saved_address=str(beijing.id),
        filled_from=str(latest.id),
        **GUANGZHOU,
    )
    assert client.post("/checkout", data=form).status_code == 303
    order = db.session.query(Order).order_by(Order.id.desc()).first()
    assert (order.province, order.district, order.address) == ("北京市", "朝阳区", "1 Chaoyang Rd")


def test_another_customers_address_is_never_used(client, ctx):
    store, _, product = small_catalog(stock_qty=10, price=3000)
    owner = make_customer("Zhou Yu", phone="13812341234")
    db.session.add(CustomerAddress(customer_id=owner.id, address="Secret 1", **BEIJING))
    db.session.commit()
    other = make_customer("Li Lei", phone="13912341234")
    sign_in(client, other)
    form = checkout_form(
        product.variants[0].id,
        store.id,
        phone="13912341234",
        fulfilment="delivery",
        address="2 Rd",
        saved_address="1",
        **GUANGZHOU,
    )
    assert client.post("/checkout", data=form).status_code == 303
    assert db.session.query(Order).one().address == "2 Rd"
