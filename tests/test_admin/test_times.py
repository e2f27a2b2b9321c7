"""Times in the admin: stored in UTC, shown and typed in the shop's time zone (named in the
navbar), exported in it to the second with the zone named."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask_login import login_user
from sqlalchemy import select, update

from admin.dashboard import figures
from shop.extensions import db
from shop.members.models import CouponTemplate
from shop.orders.models import Order
from shop.staff.models import Role, Staff
from tests.test_admin.conftest import csv_rows

PLACED_A = datetime(2026, 3, 1, 16, 30)  # 2026-03-02 00:30 in Shanghai
PLACED_B = datetime(2026, 3, 1, 15, 30)  # 2026-03-01 23:30 in Shanghai


@pytest.fixture
def app_config(app_config):
    return {**app_config, "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai"}


@pytest.fixture
def placed(app, shop_data):
    with app.app_context():
        for order_id, moment in ((shop_data.order_a, PLACED_A), (shop_data.order_b, PLACED_B)):
            db.session.execute(update(Order).where(Order.id == order_id).values(created_at=moment))
        db.session.commit()
    return shop_data


def test_lists_and_details_show_the_shops_zone_and_name_it(as_role, placed):
    owner = as_role(Role.OWNER)
    for url in ("/admin/orders/", f"/admin/orders/details/?id={placed.order_a}"):
        page = owner.get(url).get_data(as_text=True)
        assert "2026-03-02 00:30" in page and "2026-03-01 16:30" not in page, url
        assert "Times in Asia/Shanghai (GMT+08:00)" in page, url


def test_exports_give_the_shops_time_with_its_zone_named(as_role, placed):
    rows = csv_rows(as_role(Role.OWNER).get("/admin/orders/export/csv/"))
    placed_at = {row["Order"]: row["Placed"] for row in rows}
    # Stored 2026-03-01 16:30:00 UTC: the shop (Asia/Shanghai) says 2 March, 00:30.
    assert placed_at[f"SY{placed.order_a:06d}"] == "2026-03-02 00:30:00 +08:00 Asia/Shanghai"


def test_filters_take_times_in_the_shops_zone(as_role, placed, app):
    view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == "admin_orders")
    key = next(
        key
        for key, (_index, flt) in view._filter_args.items()
        if type(flt).__name__ == "DateTimeGreaterFilter" and flt.column.key == "created_at"
    )
    page = (
        as_role(Role.OWNER)
        .get(f"/admin/orders/?flt0_{key}=2026-03-02 00:00:00")
        .get_data(as_text=True)
    )
    assert f"SY{placed.order_a:06d}" in page
    assert f"SY{placed.order_b:06d}" not in page


def test_forms_show_and_take_times_in_the_shops_zone(as_role, app):
    owner = as_role(Role.OWNER)
    response = owner.post(
        "/admin/templates/new/",
        data={
            "name": "Spring",
            "kind": "fixed",
            "value_text": "5",
            "per_customer_limit": "1",
            "scope": "all",
            "active": "y",
            "valid_from": "2026-03-02 00:30:00",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        template = db.session.scalar(select(CouponTemplate))
        assert template.valid_from == PLACED_A
        template_id = template.id
    form = owner.get(f"/admin/templates/edit/?id={template_id}").get_data(as_text=True)
    assert 'value="2026-03-02 00:30:00"' in form


def test_the_dashboards_today_is_the_shops_day(placed, app):
    """At 2026-03-02 01:00 in Shanghai (17:00 UTC on 1 March), order A (00:30 local) was
    placed today and order B (23:30 local, the evening before) was not, though both fall on
    the same UTC day (which counted both)."""
    with app.test_request_context():
        login_user(db.session.scalar(select(Staff).where(Staff.role == Role.OWNER)))
        assert figures(now=datetime(2026, 3, 1, 17, 0))["orders_today"] == 1
        assert figures(now=datetime(2026, 3, 1, 15, 45))["orders_today"] == 1  # 23:45 local
