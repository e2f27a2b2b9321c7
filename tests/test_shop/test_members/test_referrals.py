"""Bring a friend: the referral link, linking a new customer (never to themselves), the
welcome coupon once, the reward exactly once on the friend's first paid order, and nothing
when the friend is the referrer under another name."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from shop.customers.models import Customer
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.members import jobs, points, referrals
from shop.members import tiers as members
from shop.members.models import Coupon, PointsEntry, ReferralReward
from shop.orders import services as orders
from tests.support.members import (
    balance,
    buy,
    coupons_of,
    ledger_sum,
    make_customer,
    make_template,
    pay,
    sign_in,
    sign_in_by_code,
)
from tests.support.shop import small_catalog


@pytest.fixture
def world(ctx):
    store, _category, product = small_catalog(stock_qty=50, price=9900)
    welcome = make_template("Welcome", value=1000, claimable=False, valid_days=30)
    thanks = make_template("Thank you", value=2000, claimable=False)
    rules = points.settings()
    rules.welcome_template_id = welcome.id
    rules.referral_reward_template_id = thanks.id
    rules.referral_reward_points = 500
    db.session.commit()
    return {
        "store": store,
        "variant": product.variants[0],
        "welcome": welcome,
        "thanks": thanks,
    }


def _customer(phone: str) -> Customer:
    db.session.expire_all()
    return db.session.scalar(select(Customer).where(Customer.phone == phone))


def _sources(customer_id: int) -> list[tuple[str, int]]:
    return [(c.source, c.template_id) for c in coupons_of(customer_id)]


def test_the_referral_code_is_made_once_and_shown_on_me(client, world):
    referrer = make_customer()
    with unit_of_work():
        code = referrals.referral_code(referrer.id)
    assert len(code) == 12 and set(code) <= set(referrals.CODE_ALPHABET)
    with unit_of_work():
        assert referrals.referral_code(referrer.id) == code
    other = make_customer()
    with unit_of_work():
        assert referrals.referral_code(other.id) != code
    sign_in(client, referrer)
    assert f"http://localhost/r/{code}" in client.get("/me").get_data(as_text=True)


def test_link_then_first_sign_in_links_the_friend_and_welcomes_them_once(client, world):
    referrer = make_customer()
    with unit_of_work():
        code = referrals.referral_code(referrer.id)
    opened = client.get(f"/r/{code}")
    assert opened.status_code == 302 and opened.headers["Location"] == "/"

    sign_in_by_code(client, "13911112222")
    friend = _customer("13911112222")
    assert friend.referrer_id == referrer.id
    assert _sources(friend.id) == [("welcome", world["welcome"].id)]

    client.post("/signout")
    sign_in_by_code(client, "13911112222")
    assert _sources(friend.id) == [("welcome", world["welcome"].id)]


def test_an_unknown_code_leads_home_and_links_no_one(client, world):
    assert client.get("/r/nosuchcode").headers["Location"] == "/"
    assert client.get("/r/../../etc").status_code in (302, 404)
    sign_in_by_code(client, "13911112222")
    assert _customer("13911112222").referrer_id is None


def test_a_first_order_from_the_browser_links_the_new_customer(client, world):
    referrer = make_customer()
    with unit_of_work():
        client.get(f"/r/{referrals.referral_code(referrer.id)}")
    response = client.post(
        "/checkout",
        data={
            "variant": world["variant"].id,
            "qty": 1,
            "phone": "13933334444",
            "name": "New Friend",
            "fulfilment": "pickup",
            "pickup_store": world["store"].id,
            "payment_method": "store",
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    assert response.status_code == 303
    friend = _customer("13933334444")
    assert friend.referrer_id == referrer.id
    assert friend.first_visitor_id is not None


def test_never_referred_by_themselves_nor_once_they_have_paid(client, world):
    referrer = make_customer()
    sign_in(client, referrer)
    with unit_of_work():
        client.get(f"/r/{referrals.referral_code(referrer.id)}")
    assert _customer(referrer.phone).referrer_id is None
    assert not referrals.link_referrer(referrer.id, referrer.id)

    veteran = make_customer()
    pay(buy(world["variant"], world["store"], veteran))
    assert not referrals.link_referrer(veteran.id, referrer.id)
    friend = make_customer()
    assert referrals.link_referrer(friend.id, referrer.id)
    assert not referrals.link_referrer(referrer.id, friend.id)  # no circles
    assert not referrals.link_referrer(friend.id, veteran.id)  # the first referrer stays


def test_the_referrers_page_shows_the_reward(client, world):
    referrer = make_customer()
    friend = make_customer(referrer_id=referrer.id)
    pay(buy(world["variant"], world["store"], friend))
    sign_in(client, referrer)
    assert "+500 points · a coupon" in client.get("/me").get_data(as_text=True)


def test_the_reward_is_given_once_on_the_friends_first_paid_order(world):
    referrer = make_customer()
    friend = make_customer(referrer_id=referrer.id)
    order = buy(world["variant"], world["store"], friend)
    assert balance(referrer.id) == 0
    assert pay(order)

    assert balance(referrer.id) == ledger_sum(referrer.id) == 500
    entry = db.session.scalar(select(PointsEntry).where(PointsEntry.kind == "reward"))
    assert (entry.customer_id, entry.entry_key) == (referrer.id, f"referral:{friend.id}")
    assert _sources(referrer.id) == [("referral", world["thanks"].id)]
    assert _sources(friend.id) == [("welcome", world["welcome"].id)]
    (reward,) = db.session.scalars(select(ReferralReward)).all()
    assert (reward.status, reward.order_id, reward.points) == ("rewarded", order.id, 500)

    # the payment reported again, the job run again, a second paid order: nothing more
    with unit_of_work():
        assert not orders.confirm_payment(
            order.id,
            provider="store",
            external_id=orders.store_payment_reference(order),
            amount=order.total,
            currency="CNY",
        )
    jobs.reward_referral(order.id)
    pay(buy(world["variant"], world["store"], friend))
    assert balance(referrer.id) == 500
    assert len(coupons_of(referrer.id)) == 1 and len(coupons_of(friend.id)) == 1
    assert len(db.session.scalars(select(ReferralReward)).all()) == 1
    assert members.referred(referrer.id) == 1


def test_a_friend_welcomed_at_sign_in_is_not_welcomed_twice(world):
    referrer = make_customer()
    friend = make_customer(referrer_id=referrer.id)
    with unit_of_work():
        members.grant_welcome(friend.id)
    pay(buy(world["variant"], world["store"], friend))
    assert _sources(friend.id) == [("welcome", world["welcome"].id)]
    assert balance(referrer.id) == 500


def test_a_friend_gets_the_friends_coupon_on_top_of_the_welcome_one(world):
    """With a coupon for referred friends set, the friend who was welcomed at sign-in also
    gets it on their first paid order, once, even when the payment is confirmed twice."""
    for_friends = make_template("For friends", value=1500, claimable=False)
    points.settings().referral_friend_template_id = for_friends.id
    db.session.commit()
    referrer = make_customer()
    friend = make_customer(referrer_id=referrer.id)
    with unit_of_work():
        members.grant_welcome(friend.id)
    order = buy(world["variant"], world["store"], friend)
    pay(order)
    with unit_of_work():
        assert referrals.reward(order.id) is None  # the second delivery changes nothing
    assert sorted(_sources(friend.id)) == sorted(
        [("welcome", world["welcome"].id), ("referral", for_friends.id)]
    )
    row = db.session.scalar(select(ReferralReward))
    assert row.friend_coupon_id is not None and row.status == "rewarded"
    assert balance(referrer.id) == 500


def _same_phone(world, referrer, friend):
    return buy(world["variant"], world["store"], friend, phone=referrer.phone)


def _same_address(world, referrer, friend):
    pay(
        buy(
            world["variant"],
            world["store"],
            referrer,
            fulfilment="delivery",
            city="Hangzhou",
            address="Room 2, 1 West Lake Rd.",
        )
    )
    return buy(
        world["variant"],
        world["store"],
        friend,
        fulfilment="delivery",
        city="hangzhou",
        address="room 2  1 west lake rd",
    )


def _same_device(world, referrer, friend):
    referrals.note_device(referrer.id, "device-1")
    return buy(world["variant"], world["store"], friend, attribution={"visitor_id": "device-1"})


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (_same_phone, "same phone"),
        (_same_address, "same address"),
        (_same_device, "same device"),
    ],
)
def test_nothing_when_the_friend_is_the_same_person(world, setup, reason):
    referrer = make_customer()
    friend = make_customer(referrer_id=referrer.id)
    order = setup(world, referrer, friend)
    before = balance(referrer.id)  # the referrer's own order earned them points
    pay(order)

    assert balance(referrer.id) == before
    assert coupons_of(friend.id) == []
    assert all(c.source != "referral" for c in coupons_of(referrer.id))
    (reward,) = db.session.scalars(select(ReferralReward)).all()
    assert (reward.status, reward.reason) == ("refused", reason)
    assert members.referred(referrer.id) == 0  # does not count toward "refer N members"
    assert db.session.scalar(select(Coupon.id).where(Coupon.source == "welcome")) is None
