"""Every field that stores ids is a searchable picker: the lookup answers what the staff member
may see (a manager their stores' rows, phones masked without the right), and the rule and coupon
forms draw Flask-Admin's select2-ajax widget, showing names, not ids."""

from __future__ import annotations

import html
import json
import re

from sqlalchemy import select

from distribution.models import CommissionRule
from shop.demo.factories import make_category
from shop.extensions import db
from shop.members.models import CouponTemplate
from shop.staff.models import Role


def _json(response):
    assert response.status_code == 200, response.status_code
    return response.get_json()


def test_the_lookup_finds_by_name_within_reach(as_role, shop_data):
    owner = as_role(Role.OWNER)
    assert _json(owner.get("/admin/lookup/product/?query=tea")) == [
        [shop_data.product_a, "Green Tea"],
        [shop_data.product_b, "Red Tea"],
    ]
    assert _json(owner.get("/admin/lookup/product/?query=green")) == [
        [shop_data.product_a, "Green Tea"]
    ]
    # "50 g", not "50": a SKU is numbered by the process (SKU-00050 once 50 were made).
    variants = _json(owner.get("/admin/lookup/variant/?query=50%20g"))
    assert [v[0] for v in variants] == [shop_data.variant_a]
    assert "Green Tea 50 g" in variants[0][1]
    # A query is text, not a pattern.
    assert _json(owner.get("/admin/lookup/product/?query=%25")) == []


def test_a_manager_finds_only_their_stores_rows_and_masked_phones(as_role, shop_data):
    manager = as_role(Role.MANAGER)
    assert _json(manager.get("/admin/lookup/product/?query=tea")) == [
        [shop_data.product_a, "Green Tea"]
    ]
    assert [s[0] for s in _json(manager.get("/admin/lookup/store/"))] == [shop_data.store_a]
    customers = _json(manager.get("/admin/lookup/customer/"))
    assert len(customers) == 1 and "138****1234" in customers[0][1]
    owner_view = _json(as_role(Role.OWNER).get("/admin/lookup/customer/?query=1399"))
    assert "13998765432" in owner_view[0][1]


def test_the_lookup_pages_and_refuses(as_role, shop_data, client, app):
    with app.app_context():
        for n in range(12):
            make_category(f"Category {n:02d}")
        db.session.commit()
    owner = as_role(Role.OWNER)
    first = _json(owner.get("/admin/lookup/category/?query=Category"))
    second = _json(owner.get("/admin/lookup/category/?query=Category&offset=10"))
    assert len(first) == 10 and len(second) == 2
    assert owner.get("/admin/lookup/nothing/").status_code == 404
    # Finance may not read customers; nobody signed out reads anything.
    assert as_role(Role.FINANCE).get("/admin/lookup/customer/").status_code == 403
    client.post("/admin/logout")
    assert app.test_client().get("/admin/lookup/product/").status_code == 302


def test_a_rule_is_made_with_the_picker_and_shows_its_target_by_name(as_role, shop_data, app):
    owner = as_role(Role.OWNER)
    page = owner.get("/admin/rules/new/").get_data(as_text=True)
    picker = re.search(r'<input [^>]*name="scope_id"[^>]*>', page).group(0)
    assert 'data-role="select2-ajax"' in picker and 'data-lookup-from="scope"' in picker
    urls = json.loads(html.unescape(re.search(r'data-lookup-urls="([^"]+)"', picker).group(1)))
    # The default rule needs no target: the picker hides.
    assert urls["product"] == "/admin/lookup/product/" and "default" not in urls
    response = owner.post(
        "/admin/rules/new/",
        data={
            "scope": "product",
            "scope_id": str(shop_data.product_b),
            "kind": "percent",
            "level1": "12",
            "level2": "3",
            "note": "",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        rule = db.session.scalar(select(CommissionRule).order_by(CommissionRule.id.desc()))
        assert (rule.scope, rule.scope_id) == ("product", shop_data.product_b)
    edit = owner.get(f"/admin/rules/edit/?id={rule.id}").get_data(as_text=True)
    assert "Red Tea" in edit and f'value="{shop_data.product_b}"' in edit


def test_a_coupon_scope_names_several_stores(as_role, shop_data, app):
    owner = as_role(Role.OWNER)
    response = owner.post(
        "/admin/templates/new/",
        data={
            "name": "Two stores",
            "kind": "fixed",
            "value_text": "5.00",
            "scope": "stores",
            "scope_ids": f"{shop_data.store_b},{shop_data.store_a}",
            "per_customer_limit": "1",
            "active": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        template = db.session.scalar(
            select(CouponTemplate).where(CouponTemplate.name == "Two stores")
        )
        assert template.scope_ids == sorted([shop_data.store_a, shop_data.store_b])
        template_id = template.id
    edit = owner.get(f"/admin/templates/edit/?id={template_id}").get_data(as_text=True)
    picker = re.search(r'<input [^>]*name="scope_ids"[^>]*>', edit).group(0)
    assert 'data-multiple="1"' in picker and "Store A" in picker and "Store B" in picker
    refused = owner.post(
        "/admin/templates/new/",
        data={
            "name": "Bad",
            "kind": "fixed",
            "value_text": "5.00",
            "scope": "stores",
            "scope_ids": "1; DROP",
            "per_customer_limit": "1",
        },
    )
    assert refused.status_code == 200 and "Choose from the list." in refused.get_data(as_text=True)
