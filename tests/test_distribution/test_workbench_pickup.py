"""A guide at the counter hands over pick-up orders of their own store from the workbench."""

from __future__ import annotations

from shop.demo.factories import make_store
from shop.extensions import db
from shop.orders.models import Order, OrderStatus
from shop.staff.models import AuditLog
from tests.support.shop import order_for, small_catalog
from tests.test_distribution.test_workbench import make_guide, sign_in


def test_a_guide_hands_over_an_order_of_their_store(app, client):
    with app.app_context():
        store, _, product = small_catalog(stock_qty=5, price=4800)
        other = make_store("Elsewhere", "Chengdu")
        staff_id = make_guide(store, "Li Na", "li@guides.test").staff_id
        db.session.commit()
        ours = order_for(product.variants[0], store)
        theirs = order_for(product.variants[0], other, phone="13900002222")
        ours = (ours.id, ours.number, ours.pickup_code)
        theirs = (theirs.id, theirs.pickup_code)
    assert sign_in(client, "li@guides.test").status_code == 302

    assert b"/guide/pickup" in client.get("/guide").data
    found = client.post("/guide/pickup", data={"code": theirs[1]})
    assert found.status_code == 422
    assert "No pick-up order has this code." in found.get_data(as_text=True)

    found = client.post("/guide/pickup", data={"code": ours[2]})
    assert ours[1] in found.get_data(as_text=True)
    done = client.post(
        "/guide/pickup/hand-over",
        data={"order_id": str(ours[0]), "code": ours[2]},
        follow_redirects=True,
    )
    assert f"Order {ours[1]} is marked picked up." in done.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Order, ours[0]).status == OrderStatus.PICKED_UP
        assert db.session.get(Order, theirs[0]).status == OrderStatus.AWAITING_PAYMENT
        entry = db.session.query(AuditLog).filter_by(action="order.picked_up").one()
        assert entry.staff_id == staff_id
