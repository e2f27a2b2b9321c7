"""Exports are audited: who exported which list, how many rows, with which search and filters,
and whether phones left in full."""

from __future__ import annotations

from sqlalchemy import select

from shop.extensions import db
from shop.staff.models import AuditLog, Role
from tests.test_admin.conftest import csv_rows


def _exports(app) -> list[AuditLog]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog).where(AuditLog.action.like("%.export")).order_by(AuditLog.id)
        ).all()
        db.session.expunge_all()
        return rows


def test_a_customer_export_names_who_exported_what(as_role, shop_data, app):
    rows = csv_rows(as_role(Role.OWNER).get("/admin/customers/export/csv/?search=138"))
    (entry,) = _exports(app)
    assert entry.action == "customer.export"
    assert entry.staff_id == shop_data.staff[Role.OWNER]
    assert entry.object_type == "Customer"
    assert entry.after["rows"] == len(rows) == 1
    assert entry.after["search"] == "138"
    assert entry.after["full_phones"] is True
    assert "phone" in entry.after["columns"]


def test_a_managers_order_export_is_audited_with_masked_phones(as_role, shop_data, app):
    rows = csv_rows(as_role(Role.MANAGER).get("/admin/orders/export/csv/?flt0_0=paid"))
    (entry,) = _exports(app)
    assert entry.action == "order.export"
    assert entry.staff_id == shop_data.staff[Role.MANAGER]
    assert entry.after["rows"] == len(rows)
    assert entry.after["full_phones"] is False
    assert entry.after["stores"] == [shop_data.store_a]
    assert entry.after["filters"] == {"flt0_0": "paid"}


def test_a_refused_export_records_nothing(as_role, shop_data, app):
    response = as_role(Role.SUPPORT).get("/admin/orders/export/csv/")
    assert response.status_code in (302, 403)
    assert _exports(app) == []


def test_exports_show_in_the_audit_log(as_role, shop_data, app):
    owner = as_role(Role.OWNER)
    owner.get("/admin/orders/export/csv/")
    page = owner.get("/admin/audit/").get_data(as_text=True)
    assert "order.export" in page
