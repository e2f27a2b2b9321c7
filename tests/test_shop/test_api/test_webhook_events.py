"""The member, customer, distribution and live events: each written through the outbox in the
transaction of the change (and not at all when the change is refused or rolled back), and
delivered to an endpoint that wants it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from distribution.factories import make_guide
from distribution.guides import transfer_customers
from distribution.models import Binding
from live import services as live
from live.factories import make_session
from shop.api import webhooks
from shop.api.models import WebhookEvent
from shop.demo.factories import make_product, make_store
from shop.errors import InvalidInput, InvalidTransition
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.outbox import OutboxEvent
from shop.infra.unit_of_work import unit_of_work
from shop.members import coupons, points, referrals, tiers
from shop.members.models import MemberTier
from tests.support.api import Receiver
from tests.support.members import buy, make_customer, make_template, owner, pay


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SMS_SENDER": "tests.support.members.CapturingSender"}


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def wants(receiver, *types, store=None) -> None:
    webhooks.create_endpoint(receiver.url, list(types), store, owner())
    db.session.commit()


def written(topic: str) -> int:
    """Outbox rows of ``topic`` (one per handler: the webhook's is the one counted here)."""
    return db.session.scalar(
        select(func.count(OutboxEvent.id)).where(
            OutboxEvent.topic == topic, OutboxEvent.handler.like("%.on_%")
        )
    )


def events_of(event_type: str) -> int:
    return db.session.scalar(
        select(func.count(WebhookEvent.id)).where(WebhookEvent.type == event_type)
    )


def shop_with_tea(name="West Lake"):
    store = make_store(name, "Hangzhou", f"1 {name} Rd")
    product = make_product("Green Tea", price=5000, stock_qty=50, store=store)
    db.session.commit()
    return store, product.variants[0]


def test_points_changed_is_one_event_per_change_with_the_balance_after_it(ctx, receiver):
    wants(receiver, "points.changed")
    store, variant = shop_with_tea()
    customer = make_customer(points_=100)  # one credit
    with unit_of_work():
        points.adjust(customer.id, -30, "Goodwill taken back", owner(), key="adjust-1")
    order = buy(variant, store, customer=customer, points=10)  # spent on the order
    pay(order)  # earned on payment (its own event, from the outbox job)
    got = [e["data"] for e in receiver.events()]
    kinds = [(d["entry"]["kind"], d["entry"]["amount"], d["balance_after"]) for d in got]
    assert kinds[:3] == [("adjust", 100, 100), ("adjust_down", -30, 70), ("spend", -10, 60)]
    assert [k for k, _a, _b in kinds[3:]] == ["earn"] and kinds[3][2] == 60 + kinds[3][1]
    stores = [e["store_id"] for e in receiver.events()]
    assert stores[2:] == [store.id, store.id]  # the order's store
    with pytest.raises(InvalidInput), unit_of_work():
        points.adjust(customer.id, -1000, "More than held", owner(), key="adjust-2")
    assert written("points.changed") == 4 and events_of("points.changed") == 4


def test_coupon_claimed_and_redeemed_are_announced_and_a_refused_claim_is_not(ctx, receiver):
    wants(receiver, "coupon.claimed", "coupon.redeemed")
    store, variant = shop_with_tea()
    customer, other = make_customer(), make_customer()
    template = make_template(total_quantity=1)
    with unit_of_work():
        coupon = coupons.issue(template.id, customer.id)
    with pytest.raises(InvalidInput), unit_of_work():
        coupons.issue(template.id, other.id)  # all claimed
    order = buy(variant, store, customer=customer, coupon=coupon.id)
    claimed, redeemed = receiver.events()
    assert claimed["type"] == "coupon.claimed"
    assert claimed["data"]["coupon"]["customer_id"] == customer.id
    assert redeemed["type"] == "coupon.redeemed" and redeemed["data"]["order_id"] == order.id
    assert redeemed["data"]["coupon"]["id"] == coupon.id and redeemed["store_id"] == store.id
    assert written("coupon.claimed") == 1 and written("coupon.redeemed") == 1


def test_a_rolled_back_change_writes_no_event(ctx, receiver):
    wants(receiver)
    customer = make_customer()
    template = make_template()
    with pytest.raises(RuntimeError), unit_of_work():
        # (the points first: on SQLite a savepoint opened before any write would be the
        # transaction itself, and releasing it would commit: pysqlite's deferred BEGIN)
        points.post(customer.id, 5, "adjust", "rolled-back")
        coupons.issue(template.id, customer.id)
        raise RuntimeError("the entry point failed after the change")
    db.session.expire_all()
    assert written("coupon.claimed") == 0 and written("points.changed") == 0
    assert receiver.events() == []


def test_member_tier_changed_by_staff_by_earning_and_by_retention(ctx, receiver):
    wants(receiver, "member.tier_changed")
    gold = MemberTier(name="金卡", name_en="Gold", rank=1)
    db.session.add(gold)
    customer = make_customer()
    with pytest.raises(InvalidInput), unit_of_work():
        tiers.set_tier(customer.id, gold.id, owner(), reason="")  # refused: no reason
    with unit_of_work():
        tiers.set_tier(customer.id, gold.id, owner(), reason="VIP")
    with unit_of_work():
        tiers.set_tier(customer.id, gold.id, owner(), reason="Again")  # no change: no event
    with unit_of_work():
        tiers.set_tier(customer.id, None, owner(), reason="Left the club")
    changes = [e["data"] for e in receiver.events()]
    assert [(c["previous_tier"], c["tier"] and c["tier"]["name_en"]) for c in changes] == [
        (None, "Gold"),
        (changes[1]["previous_tier"], None),
    ]
    assert changes[1]["previous_tier"]["id"] == gold.id
    assert {c["reason"] for c in changes} == {"staff"}
    assert changes[0]["customer"]["id"] == customer.id


def test_customer_updated_when_their_details_or_their_referrer_change(ctx, receiver):
    wants(receiver, "customer.updated")
    store, variant = shop_with_tea()
    friend = make_customer()
    customer = make_customer(name="")
    customer.name = ""
    db.session.commit()
    with unit_of_work():
        assert referrals.link_referrer(customer.id, friend.id)
    buy(variant, store, customer=customer, name="Wang Fang")  # fills the blank name
    updates = receiver.events()
    assert [u["data"]["changed"] for u in updates] == [["referrer_id"], ["name"]]
    assert updates[0]["data"]["customer"]["referrer_id"] == friend.id
    assert updates[1]["data"]["customer"]["name"] == "Wang Fang"
    assert updates[1]["store_id"] == store.id
    with unit_of_work():
        assert not referrals.link_referrer(customer.id, friend.id)  # already linked: no event
    assert len(receiver.events()) == 2


def test_customer_guide_changed_when_a_leaving_guide_hands_customers_on(ctx, receiver):
    store, _variant = shop_with_tea()
    other_store, _other = shop_with_tea("Bund")
    wants(receiver, "customer.guide_changed", store=store.id)
    leaving, heir = make_guide(store, "Li Na"), make_guide(store, "Zhao Lei")
    customer = make_customer()
    now = utcnow()
    db.session.add_all(
        [
            Binding(customer_id=customer.id, sharer_id=leaving.id, bound_at=now, touched_at=now),
            Binding(visitor_id="v-anonymous", sharer_id=leaving.id, bound_at=now, touched_at=now),
        ]
    )
    db.session.commit()
    with unit_of_work():
        assert transfer_customers(leaving, [heir], owner()) == 2
    (changed,) = receiver.events()  # the anonymous visitor is no customer: no event
    assert changed["type"] == "customer.guide_changed" and changed["store_id"] == store.id
    data = changed["data"]
    assert data["customer"]["id"] == customer.id and data["reason"] == "transferred"
    assert (data["previous_sharer"]["id"], data["sharer"]["id"]) == (leaving.id, heir.id)
    assert data["sharer"]["kind"] == "guide"


def test_a_customer_bound_at_their_order_is_announced(ctx, client, receiver):
    from distribution.sharing import link_for
    from shop.orders.models import Order
    from tests.support.shop import checkout_form

    wants(receiver, "customer.guide_changed")
    store, variant = shop_with_tea()
    guide = make_guide(store, "Li Na")
    link = link_for(guide, "product", variant.product_id)
    db.session.commit()
    client.get(f"/s/{link.code}")
    form = checkout_form(variant.id, store.id)
    client.post("/checkout", data=form)
    order = db.session.scalar(select(Order).where(Order.idempotency_key == form["idempotency_key"]))
    (bound,) = receiver.events()
    assert bound["data"]["customer"]["id"] == order.customer_id
    assert bound["data"]["reason"] == "bound" and bound["data"]["previous_sharer"] is None
    assert bound["data"]["sharer"]["id"] == guide.id and bound["store_id"] == store.id


def test_live_session_started_and_ended(ctx, receiver):
    store, _variant = shop_with_tea()
    guide = make_guide(store, "Li Na")
    session = make_session(store, host=guide)
    db.session.commit()
    wants(receiver, "live.session.started", "live.session.ended")
    with unit_of_work():
        live.heartbeat(session.id)
    with unit_of_work():
        live.heartbeat(session.id, paused=True)  # a pause is no event
    with unit_of_work():
        live.heartbeat(session.id)  # nor is resuming
    with unit_of_work():
        live.end(session.id)
    with pytest.raises(InvalidTransition), unit_of_work():
        live.heartbeat(session.id)  # ended: refused
    events = receiver.events()
    assert [e["type"] for e in events] == ["live.session.started", "live.session.ended"]
    assert {e["store_id"] for e in events} == {store.id}
    assert events[0]["data"]["session"]["started_at"] and events[1]["data"]["session"]["ended_at"]


def test_a_customer_made_by_signing_in_or_applying_as_promoter_is_announced(ctx, client, receiver):
    from distribution.promoters import apply_as_promoter
    from shop.customers.models import Customer
    from tests.support.members import sign_in_by_code

    wants(receiver, "customer.created")
    sign_in_by_code(client, "13700001111")
    sign_in_by_code(client, "13700001111")  # the same customer again: no second event
    with unit_of_work():
        apply_as_promoter("13700002222", "Zhou Min")
    phones = {c.id: c.phone for c in db.session.scalars(select(Customer))}
    created = receiver.events()
    assert sorted(phones[e["data"]["customer"]["id"]] for e in created) == [
        "13700001111",
        "13700002222",
    ]


def test_every_event_type_of_the_issue_is_offered(ctx):
    offered = set(webhooks.event_types())
    assert {
        "customer.updated",
        "customer.guide_changed",
        "member.tier_changed",
        "points.changed",
        "coupon.claimed",
        "coupon.redeemed",
        "commission.accrued",
        "commission.settled",
        "commission.reversed",
        "payout.paid",
        "live.session.started",
        "live.session.ended",
    } <= offered
