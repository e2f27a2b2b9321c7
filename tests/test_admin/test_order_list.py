"""The order list and page as staff read them: status tabs with counts, a "today" tab in the
shop's time zone, coloured status chips; who was credited and why, and the order's timeline;
the grouped menu, booleans as marks and Flask-Admin's words reworded in Chinese."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest
from sqlalchemy import update

from admin.kit import times
from distribution.factories import make_guide
from distribution.sharing import link_for, open_link
from shop.catalog.models import Store, Variant
from shop.checkout.services import place_order
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.orders.models import Order
from shop.staff.models import Role
from tests.support.shop import details

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def _text(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_tabs_count_each_status_and_narrow_the_list(as_role, shop_data):
    owner = as_role(Role.OWNER)
    owner.post("/admin/orders/act/", data={"id": shop_data.order_a, "verb": "mark_paid"})
    page = _text(owner.get("/admin/orders/"))
    assert '<span class="badge badge-pill badge-primary siyu-chip">Paid</span>' in page
    assert '<span class="badge badge-pill badge-warning siyu-chip">Awaiting payment</span>' in page
    tabs = dict(re.findall(r'\s(\w[\w ]*) <span class="badge badge-\w+">(\d+)</span>', page))
    assert tabs == {
        "All": "2",
        "Today": "2",
        "Awaiting payment": "1",
        "Paid": "1",
        "Shipped": "0",
        "Picked up": "0",
        "Completed": "0",
        "Cancelled": "0",
        "Refunded": "0",
    }
    paid = _text(owner.get("/admin/orders/?tab=paid"))
    assert f"SY{shop_data.order_a:06d}" in paid and f"SY{shop_data.order_b:06d}" not in paid
    assert 'aria-current="page"' in paid
    # The tab narrows the export too, and an unknown tab is ignored.
    export = _text(owner.get("/admin/orders/export/csv/?tab=awaiting_payment"))
    assert f"SY{shop_data.order_b:06d}" in export and f"SY{shop_data.order_a:06d}" not in export
    everything = _text(owner.get("/admin/orders/?tab=nonsense"))
    assert f"SY{shop_data.order_a:06d}" in everything and f"SY{shop_data.order_b:06d}" in everything
    # The order page is reached whatever tab the list was on.
    assert owner.get(f"/admin/orders/details/?id={shop_data.order_b}&tab=paid").status_code == 200


def test_a_manager_counts_only_their_stores_orders(as_role, shop_data):
    page = _text(as_role(Role.MANAGER).get("/admin/orders/"))
    assert 'All <span class="badge badge-light">1</span>' in page


def test_today_is_the_shops_day(as_role, shop_data, app, monkeypatch):
    """At 01:00 on 7 December in Shanghai (17:00 UTC on the 6th), an order placed at 00:30
    Shanghai time is today's; one placed at 23:30 the evening before is not, though both are
    the same day in UTC."""
    with app.app_context():
        db.session.execute(
            update(Order)
            .where(Order.id == shop_data.order_a)
            .values(created_at=datetime(2026, 12, 6, 16, 30))
        )
        db.session.execute(
            update(Order)
            .where(Order.id == shop_data.order_b)
            .values(created_at=datetime(2026, 12, 6, 15, 30))
        )
        db.session.commit()
    monkeypatch.setattr(times, "utcnow", lambda: datetime(2026, 12, 6, 17, 0))  # the shop's clock
    page = _text(as_role(Role.OWNER).get("/admin/orders/?tab=today"))
    assert f"SY{shop_data.order_a:06d}" in page and f"SY{shop_data.order_b:06d}" not in page
    assert 'Today <span class="badge badge-light">1</span>' in page


@pytest.fixture
def credited_order(app, shop_data):
    """Store A's guide Li Na shared the Green Tea; a customer opened the link and ordered."""
    with app.app_context():
        store = db.session.get(Store, shop_data.store_a)
        li = make_guide(store, "Li Na", phone="13911112222")
        db.session.commit()
        visitor = uuid.uuid4().hex
        variant = db.session.get(Variant, shop_data.variant_a)
        open_link(link_for(li, "product", variant.product_id, "wechat-group"), visitor)
        with unit_of_work():
            order = place_order(
                [(variant.id, 1)],
                details(store, phone="13700000009", attribution={"visitor_id": visitor}),
                uuid.uuid4().hex,
            )
        return order.id


def test_the_order_page_says_who_was_credited_and_its_timeline(as_role, credited_order):
    owner = as_role(Role.OWNER)
    owner.post("/admin/orders/act/", data={"id": credited_order, "verb": "mark_paid"})
    owner.post("/admin/orders/act/", data={"id": credited_order, "verb": "picked_up"})
    page = _text(owner.get(f"/admin/orders/details/?id={credited_order}"))
    assert "Who is credited" in page and "<strong>Li Na</strong>" in page
    assert "Credited to Li Na: their link was opened" in page
    timeline = page.split("Timeline", 1)[1]
    placed, picked_up = timeline.index("Order placed"), timeline.index("Picked up")
    # Marked paid and the payment it records are the same moment: either order is right.
    for step in ("Marked paid", "Payment received"):
        assert placed < timeline.index(step) < picked_up
    assert "owner" in timeline


def test_an_order_without_attribution_says_so(as_role, shop_data):
    page = _text(as_role(Role.OWNER).get(f"/admin/orders/details/?id={shop_data.order_a}"))
    assert "no one is credited" in page


def test_the_menu_is_grouped_and_booleans_are_marks(as_role, shop_data):
    page = _text(as_role(Role.OWNER).get("/admin/orders/"))
    assert "container-fluid" in page
    menus = re.findall(
        r'class="dropdown-toggle nav-link"[^>]*>\s*(?:<[^>]*>\s*)*([\w ]+?)\s*<', page
    )
    assert menus == [
        "Sales",
        "Catalog",
        "People",
        "Distribution",
        "Commission",
        "Members",
        "Live",
        "System",
    ]
    assert 'title="No" aria-label="No">–</span>' in page  # "needs review"
    assert "fa-minus-circle" not in page


def test_flask_admins_words_read_naturally_in_chinese(as_role, shop_data):
    owner = as_role(Role.OWNER)
    page = _text(owner.get("/admin/orders/", headers=ZH))
    assert "50 条/页" in page and "20 条/页" in page
    assert "项目" not in page and "添加筛选器" not in page
    assert "筛选" in page and "全部" in page and "今天" in page
    export = _text(owner.get("/admin/orders/export/csv/", headers=ZH))
    assert "False" not in export and "True" not in export
