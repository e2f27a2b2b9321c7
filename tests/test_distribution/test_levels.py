"""Sharer levels go up when their tasks are met: invites and team sales."""

from __future__ import annotations

import uuid

from distribution.factories import make_guide
from distribution.models import SharerLevel
from distribution.promoters import apply_as_promoter
from distribution.sharing import link_for, open_link
from shop.checkout.services import place_order
from shop.demo.factories import make_staff
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.staff.models import Role
from tests.support.shop import details, small_catalog


def test_invites_and_team_sales_lift_the_level_and_the_multiplier(ctx):
    store, _category, product = small_catalog(stock_qty=20, price=10000)
    guide = make_guide(store, "Li Na")
    owner = make_staff("owner@test", "owner-password", Role.OWNER)
    bronze = SharerLevel(name="Bronze", rank=1, multiplier_pct=100)
    silver = SharerLevel(name="Silver", rank=2, multiplier_pct=110, invites_needed=2)
    gold = SharerLevel(
        name="Gold", rank=3, multiplier_pct=120, invites_needed=2, team_sales_needed=20000
    )
    db.session.add_all([bronze, silver, gold])
    guide.level = bronze
    db.session.commit()
    invite = link_for(guide, "home").code

    with unit_of_work():
        apply_as_promoter("13900000001", "Zhao Lei", invite)
    assert guide.level is bronze
    with unit_of_work():
        recruit = apply_as_promoter("13900000002", "Qian Yu", invite)
    assert guide.level is silver  # two invites

    visitor = uuid.uuid4().hex
    open_link(link_for(recruit, "product", product.id), visitor)
    with unit_of_work():
        order = place_order(
            [(product.variants[0].id, 2)],
            details(store, phone="13812340000", attribution={"visitor_id": visitor}),
            uuid.uuid4().hex,
        )
    with unit_of_work():
        orders.mark_paid_at_store(order.id, owner)
    db.session.refresh(guide)
    assert guide.level == gold  # team sales of 20000 through the recruit
