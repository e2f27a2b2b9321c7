"""Live sessions in the admin: roles, a store manager limited to their stores' sessions and
shelves, the report with paid GMV net of refunds (unpaid apart) and its CSV export."""

from __future__ import annotations

import pytest

from live.factories import make_session, shelve
from live.models import LiveSession, ShelfItem
from shop.catalog.models import Product, Store
from shop.checkout.services import place_order
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.staff.models import Role
from tests.support.members import pay
from tests.support.shop import details


@pytest.fixture
def live_data(app, shop_data):
    with app.app_context():
        store_a, store_b = (
            db.session.get(Store, shop_data.store_a),
            db.session.get(Store, shop_data.store_b),
        )
        mine = make_session(store_a, "Store A live", on_air=True)
        theirs = make_session(store_b, "Store B live")
        item = shelve(mine, db.session.get(Product, shop_data.product_a), 3000, cap=10, limit=3)
        other_item = shelve(theirs, db.session.get(Product, shop_data.product_b), 100)
        db.session.commit()
        live = {"live_session_id": mine.id}
        with unit_of_work():
            paid = place_order(
                [(shop_data.variant_a, 2)],
                details(phone="13700000001", pickup_store_id=shop_data.store_a, attribution=live),
                "live-admin-paid-000001",
            )
        pay(paid)
        with unit_of_work():
            place_order(
                [(shop_data.variant_a, 1)],
                details(phone="13700000002", pickup_store_id=shop_data.store_a, attribution=live),
                "live-admin-unpaid-00001",
            )
        return {"mine": mine.id, "theirs": theirs.id, "item": item.id, "other": other_item.id}


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.OWNER, 200), (Role.MANAGER, 200), (Role.FINANCE, 200), (Role.SUPPORT, 403)],
)
def test_who_reaches_the_live_pages(as_role, live_data, role, status):
    client = as_role(role)
    assert client.get("/admin/live/").status_code == status
    assert client.get("/admin/live-shelves/").status_code == status


def test_the_shelf_list_speaks_as_the_host_console_does(as_role, live_data):
    page = as_role(Role.OWNER).get("/admin/live-shelves/", headers={"Accept-Language": "zh-CN"})
    html = page.get_data(as_text=True)
    assert "每人限购" in html and "每人限领" not in html  # a limit to buy, not to claim
    assert "Live Sessions / Title" not in html and "Products / Name" not in html  # filters


def test_a_manager_sees_only_their_stores_sessions_and_shelves(as_role, live_data):
    manager = as_role(Role.MANAGER)
    page = manager.get("/admin/live/").get_data(as_text=True)
    assert "Store A live" in page and "Store B live" not in page
    assert manager.get(f"/admin/live/report/{live_data['theirs']}").status_code == 404
    assert manager.get(f"/admin/live-shelves/edit/?id={live_data['other']}").status_code == 404


def test_a_manager_cannot_move_a_session_to_another_store(as_role, live_data, shop_data, app):
    manager = as_role(Role.MANAGER)
    response = manager.post(
        f"/admin/live/edit/?id={live_data['mine']}",
        data={"store": str(shop_data.store_b), "title": "Moved", "stream_kind": "hls"},
    )
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(LiveSession, live_data["mine"]).store_id == shop_data.store_a


def test_the_shelf_form_takes_the_live_price_in_major_units(as_role, live_data, app):
    owner = as_role(Role.OWNER)
    response = owner.post(
        f"/admin/live-shelves/edit/?id={live_data['item']}",
        data={
            "session": str(live_data["mine"]),
            "product": str(db_product(app, live_data["item"])),
            "live_price": "25.50",
            "per_customer_limit": "2",
            "stock_cap": "8",
            "position": "0",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ShelfItem, live_data["item"]).live_price == 2550


def test_the_shelf_form_obeys_the_shelf_rules_with_their_reasons(as_role, live_data, app):
    """The admin calls live selling's shelf rules (``live.shelf``), as the host console does:
    3 units are held and 5 left in stock, so a cap of 9 leaves more than the stock."""
    owner = as_role(Role.OWNER)
    form = {
        "session": str(live_data["mine"]),
        "product": str(db_product(app, live_data["item"])),
        "live_price": "25.50",
        "per_customer_limit": "2",
        "stock_cap": "9",
        "position": "0",
    }
    response = owner.post(f"/admin/live-shelves/edit/?id={live_data['item']}", data=form)
    assert "The session stock cap is more than the 5 in stock." in response.get_data(as_text=True)
    url = f"/admin/live-shelves/edit/?id={live_data['item']}"
    response = owner.post(url, data={**form, "stock_cap": "", "live_price": "0"})
    assert "The live price must be more than zero." in response.get_data(as_text=True)
    with app.app_context():
        item = db.session.get(ShelfItem, live_data["item"])
        assert (item.live_price, item.stock_cap) == (3000, 10)


def db_product(app, item_id: int) -> int:
    with app.app_context():
        return db.session.get(ShelfItem, item_id).product_id


def test_the_report_counts_paid_sales_and_shows_unpaid_apart(as_role, live_data):
    owner = as_role(Role.OWNER)
    page = owner.get(f"/admin/live/report/{live_data['mine']}").get_data(as_text=True)
    assert "60.00" in page and "30.00" in page
    export = owner.get(f"/admin/live/report/{live_data['mine']}.csv").get_data(as_text=True)
    session_line = next(line for line in export.splitlines() if line.startswith("session,"))
    # orders, paid orders, units, paid GMV, unpaid orders, unpaid amount, paying buyers
    assert session_line.endswith(",2,1,2,6000,1,3000,1")
    assert "inviter,No inviter" in export


def test_the_programme_settings_hold_the_live_invite_precedence(as_role):
    page = as_role(Role.OWNER).get("/admin/programme/", follow_redirects=True)
    assert "A live invite outranks a binding" in page.get_data(as_text=True)


def test_staff_switch_a_sessions_tips_on_off_or_back_to_the_settings(as_role, live_data, app):
    owner = as_role(Role.OWNER)
    form = {"store": "", "title": "Store A live", "stream_kind": "hls"}
    with app.app_context():
        form["store"] = str(db.session.get(LiveSession, live_data["mine"]).store_id)
    for chosen, stored in (("1", True), ("0", False), ("", None)):
        response = owner.post(
            f"/admin/live/edit/?id={live_data['mine']}", data={**form, "tips": chosen}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        with app.app_context():
            assert db.session.get(LiveSession, live_data["mine"]).tips is stored
