"""Opening ``/s/<code>`` through the app: the visit, the binding policy, the cookies and the
redirect, for new and returning visitors, signed-in customers, every target and a sharer who
left."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from distribution.factories import make_guide
from distribution.guides import transfer_customers
from distribution.models import Binding, DistributionSettings, Visit
from distribution.sharing import link_for, settings
from shop.customers.identity import VISITOR_COOKIE
from shop.customers.models import Customer
from shop.demo.factories import make_category
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from tests.support.members import make_template
from tests.support.shop import small_catalog


@pytest.fixture
def world(ctx):
    store, _category, product = small_catalog()
    li = make_guide(store, "Li Na")
    wang = make_guide(store, "Wang Fang")
    db.session.commit()
    return {"store": store, "product": product, "li": li, "wang": wang}


def link(world, who: str, target: str = "product", target_id: int | None = None):
    if target_id is None:
        target_id = world["product"].id if target == "product" else 0
    return link_for(world[who], target, target_id, "wechat-group")


def visitor_cookie(client) -> str:
    return client.get_cookie(VISITOR_COOKIE).value


def bindings() -> list[Binding]:
    return list(db.session.scalars(select(Binding).order_by(Binding.id)))


def test_a_new_visitor_is_recorded_bound_and_sent_to_the_product(client, world):
    code = link(world, "li").code
    response = client.get(f"/s/{code}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/p/{world['product'].slug}"
    visitor = visitor_cookie(client)
    with client.session_transaction() as session:
        assert session["attribution"] == {"share_code": code}

    (visit,) = db.session.scalars(select(Visit)).all()
    assert (visit.link.code, visit.sharer_id, visit.visitor_id) == (code, world["li"].id, visitor)
    assert (visit.channel, visit.customer_id) == ("wechat-group", None)
    (binding,) = bindings()
    assert (binding.visitor_id, binding.sharer_id, binding.link_id) == (
        visitor,
        world["li"].id,
        visit.link_id,
    )
    assert binding.active and binding.ended_reason == ""
    assert binding.bound_at == binding.touched_at == visit.created_at
    assert binding.protected_until == visit.created_at + timedelta(days=15)
    assert binding.valid_until == visit.created_at + timedelta(days=30)


def test_a_returning_visitor_refreshes_the_binding_another_sharer_cannot_take_over(client, world):
    client.get(f"/s/{link(world, 'li').code}")
    first = bindings()[0].touched_at
    home_link = link(world, "li", "home")
    assert client.get(f"/s/{home_link.code}").headers["Location"] == "/"
    client.get(f"/s/{link(world, 'wang').code}")

    assert db.session.scalar(select(func.count(Visit.id))) == 3
    db.session.expire_all()
    (binding,) = bindings()
    assert binding.sharer_id == world["li"].id
    assert binding.link_id == home_link.id  # the refresh moved it to the link last opened
    assert binding.touched_at > first


def test_last_click_lets_the_newest_sharer_take_over(client, world):
    settings().binding_policy = "last-click"
    db.session.commit()
    client.get(f"/s/{link(world, 'li').code}")
    client.get(f"/s/{link(world, 'wang').code}")

    db.session.expire_all()
    old, new = bindings()
    assert (old.sharer_id, old.active, old.ended_reason) == (world["li"].id, False, "replaced")
    assert (new.sharer_id, new.active, new.visitor_id) == (world["wang"].id, True, old.visitor_id)


def test_a_signed_in_customer_keeps_the_sharer_bound_on_another_device(client, app, world):
    customer = Customer(phone="13812341234", name="Zhao")
    db.session.add(customer)
    db.session.commit()
    with app.test_client() as phone:
        with phone.session_transaction() as session:
            session["customer_id"] = customer.id
        phone.get(f"/s/{link(world, 'li').code}")
    with client.session_transaction() as session:
        session["customer_id"] = customer.id
    client.get(f"/s/{link(world, 'wang').code}")  # a new device, the same customer

    visits = db.session.scalars(select(Visit).order_by(Visit.id)).all()
    assert [v.customer_id for v in visits] == [customer.id, customer.id]
    assert visits[0].visitor_id != visits[1].visitor_id
    (binding,) = bindings()
    assert (binding.sharer_id, binding.customer_id) == (world["li"].id, customer.id)


def test_a_sharer_who_left_still_counts_the_visit_but_binds_no_one(client, world):
    code = link(world, "li").code
    with unit_of_work():
        transfer_customers(world["li"], [world["wang"]])
    response = client.get(f"/s/{code}")
    assert response.headers["Location"] == f"/p/{world['product'].slug}"
    assert db.session.scalar(select(func.count(Visit.id))) == 1
    assert bindings() == []


def test_each_target_leads_inside_the_shop(client, world):
    category = make_category("Green Tea")
    template = make_template("Welcome", value=500)
    db.session.commit()
    cases = [
        (link(world, "li", "category", category.id), f"/c/{category.slug}"),
        (link(world, "li", "coupon", template.id), f"/coupons/{template.id}"),
        (link(world, "li", "coupon", template.id + 1000), "/"),
        (link(world, "li", "live", 7), "/live/7/enter"),  # unknown sessions: home from there
    ]
    world["product"].active = False
    db.session.commit()
    cases.append((link(world, "li"), "/"))
    for share_link, path in cases:
        assert client.get(f"/s/{share_link.code}").headers["Location"] == path
    assert db.session.scalar(select(func.count(Visit.id))) == len(cases)


def test_an_unknown_code_records_nothing(client, world):
    link(world, "li")
    response = client.get("/s/zzzzzzzz")
    assert response.headers["Location"] == "/"
    with client.session_transaction() as session:
        assert "attribution" not in session
    assert db.session.scalar(select(func.count(Visit.id))) == 0
    assert bindings() == []


def test_the_first_opening_makes_the_settings_with_their_defaults(client, world):
    assert db.session.scalar(select(func.count(DistributionSettings.id))) == 0
    client.get(f"/s/{link(world, 'li').code}")
    rules = db.session.scalars(select(DistributionSettings)).one()
    assert (rules.binding_policy, rules.protection_days, rules.validity_days) == (
        "first-sharer-protected",
        15,
        30,
    )
    (binding,) = bindings()
    assert binding.valid_until == binding.bound_at + timedelta(days=30)


def test_a_forged_visitor_cookie_is_replaced_not_stored(client, world):
    client.set_cookie(VISITOR_COOKIE, "x" * 100)

    response = client.get(f"/s/{link(world, 'li').code}")

    assert response.status_code == 302
    visitor = visitor_cookie(client)
    assert visitor != "x" * 100
    (visit,) = db.session.scalars(select(Visit)).all()
    assert visit.visitor_id == visitor
