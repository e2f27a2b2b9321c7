"""A guide leaves: customers and open bindings move, history stays, the login stops."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from distribution.factories import make_guide
from distribution.guides import transfer_customers
from distribution.models import Attribution, Binding
from distribution.sharing import link_for, open_link
from shop.checkout.services import place_order
from shop.demo.factories import make_staff
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.staff.models import AuditLog, Role
from tests.support.shop import details, small_catalog


def test_guide_leaves_round_robin(ctx):
    store, _category, product = small_catalog(stock_qty=50)
    leaving = make_guide(store, "Li Na")
    heirs = [make_guide(store, "Wang Fang"), make_guide(store, "Chen Jie")]
    owner = make_staff("owner@test", "owner-password", Role.OWNER)
    db.session.commit()
    link = link_for(leaving, "product", product.id, "wechat-group")
    visitors = [uuid.uuid4().hex for _ in range(4)]
    for visitor in visitors:
        open_link(link, visitor)
    with unit_of_work():
        sold = place_order(
            [(product.variants[0].id, 1)],
            details(store, attribution={"visitor_id": visitors[0]}),
            uuid.uuid4().hex,
        )

    with unit_of_work():
        assert transfer_customers(leaving, heirs, staff=owner) == 4
    active = db.session.scalars(select(Binding).where(Binding.active.is_(True))).all()
    assert sorted(b.sharer_id for b in active) == sorted([heirs[0].id, heirs[1].id] * 2)
    ended = db.session.scalars(select(Binding).where(Binding.sharer_id == leaving.id)).all()
    assert len(ended) == 4 and all(b.ended_reason == "transferred" for b in ended)
    assert leaving.status == "left" and leaving.staff.active is False
    assert db.session.get(Attribution, sold.id).sharer_id == leaving.id  # history keeps it
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "guide.leave"))

    with unit_of_work():
        again = place_order(
            [(product.variants[0].id, 1)],
            details(store, phone="13900002222", attribution={"visitor_id": visitors[1]}),
            uuid.uuid4().hex,
        )
    assert db.session.get(Attribution, again.id).sharer_id in {h.id for h in heirs}
