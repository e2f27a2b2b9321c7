"""Members in the admin: points adjusted with a reason (audited, once per form), coupons granted,
templates and tiers in major units and percentages, loyalty settings audited, roles, CSRF."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shop.customers.models import Customer
from shop.extensions import db
from shop.members.models import (
    Coupon,
    CouponTemplate,
    LoyaltySettings,
    MemberTier,
    PointsEntry,
)
from shop.staff.models import AuditLog, Role
from tests.support.members import make_customer, make_template
from tests.test_admin.conftest import csrf_token, idempotency_key


@pytest.fixture
def member(app, shop_data):
    """A customer with 100 points (id only)."""
    with app.app_context():
        return make_customer("Mei", phone="13655556666", points_=100).id


def _balance(app, customer_id: int) -> int:
    with app.app_context():
        return db.session.get(Customer, customer_id).points_balance


def _adjust_form(client, customer: str = "") -> str:
    page = client.get(f"/admin/points/adjust/?customer={customer}").get_data(as_text=True)
    return idempotency_key(page)


def test_points_adjustment_with_a_reason_is_audited(as_role, member, app, shop_data):
    finance = as_role(Role.FINANCE)
    key = _adjust_form(finance, str(member))
    form = {"idempotency_key": key, "customer": "13655556666", "amount": "-30", "reason": "Typo"}
    response = finance.post("/admin/points/adjust/", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _balance(app, member) == 70
    # The same form again (a double click, a reload) changes nothing.
    again = finance.post("/admin/points/adjust/", data=form, follow_redirects=True)
    assert "This adjustment was already made." in again.get_data(as_text=True)
    assert _balance(app, member) == 70
    with app.app_context():
        entries = db.session.scalars(
            select(PointsEntry).where(PointsEntry.kind == "adjust_down")
        ).all()
        assert [(e.amount, e.note, e.staff_id) for e in entries] == [
            (-30, "Typo", shop_data.staff[Role.FINANCE])
        ]
        audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "points.adjust")).all()
        assert len(audit) == 1
        assert audit[0].staff_id == shop_data.staff[Role.FINANCE]
        assert audit[0].object_id == str(member)
        assert audit[0].before == {"points": 100}
        assert audit[0].after == {"points": 70, "reason": "Typo"}
    listing = finance.get("/admin/points/").get_data(as_text=True)
    assert "Typo" in listing and "136****6666" in listing  # finance sees masked phones


def test_points_adjustment_without_a_reason_is_refused(as_role, member, app):
    owner = as_role(Role.OWNER)
    key = _adjust_form(owner)
    response = owner.post(
        "/admin/points/adjust/",
        data={"idempotency_key": key, "customer": str(member), "amount": "50", "reason": " "},
    )
    assert response.status_code == 400
    assert "Give a reason for the adjustment." in response.get_data(as_text=True)
    overdraw = owner.post(
        "/admin/points/adjust/",
        data={"idempotency_key": key, "customer": str(member), "amount": "-101", "reason": "x"},
    )
    assert "You do not have enough points." in overdraw.get_data(as_text=True)
    unknown = owner.post(
        "/admin/points/adjust/",
        data={"idempotency_key": key, "customer": "13000000000", "amount": "5", "reason": "x"},
    )
    assert "No customer has" in unknown.get_data(as_text=True)
    assert _balance(app, member) == 100
    with app.app_context():
        assert not db.session.scalar(select(AuditLog.id).where(AuditLog.action == "points.adjust"))


def test_grant_a_coupon(as_role, member, app, shop_data):
    with app.app_context():
        template = make_template("Ten off", value=1000, per_customer_limit=1, claimable=False).id
    owner = as_role(Role.OWNER)
    page = owner.get("/admin/coupons/grant/").get_data(as_text=True)
    assert "Ten off — ¥10.00 off" in page
    response = owner.post(
        "/admin/coupons/grant/", data={"template": str(template), "customer": "13655556666"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    twice = owner.post(
        "/admin/coupons/grant/", data={"template": str(template), "customer": str(member)}
    )
    assert twice.status_code == 400
    assert "You already have this coupon." in twice.get_data(as_text=True)
    with app.app_context():
        coupons = db.session.scalars(select(Coupon)).all()
        assert [(c.customer_id, c.template_id, c.source) for c in coupons] == [
            (member, template, "admin")
        ]
        assert db.session.get(CouponTemplate, template).claimed_count == 1
        audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "coupon.grant"))
        assert audit.staff_id == shop_data.staff[Role.OWNER]
        assert audit.after == {"template": template, "customer": member, "source": "admin"}
    listing = owner.get("/admin/coupons/").get_data(as_text=True)
    assert "Granted by staff" in listing and "13655556666" in listing


@pytest.mark.parametrize(
    ("role", "lists", "grant", "adjust"),
    [
        (Role.SUPPORT, 200, 403, 403),
        (Role.FINANCE, 200, 403, 200),
        (Role.MANAGER, 403, 403, 403),
    ],
)
def test_roles(as_role, member, role, lists, grant, adjust):
    client = as_role(role)
    assert client.get("/admin/coupons/").status_code == lists
    assert client.get("/admin/points/").status_code == lists
    assert client.get("/admin/coupons/grant/").status_code == grant
    assert client.get("/admin/points/adjust/").status_code == adjust


def test_support_reads_full_phones_but_changes_nothing(as_role, member, app):
    support = as_role(Role.SUPPORT)
    assert "13655556666" in support.get("/admin/points/").get_data(as_text=True)
    refused = support.get("/admin/tiers/")
    assert refused.status_code == 403
    assert "Your role does not allow this. Ask an owner" in refused.get_data(as_text=True)
    response = support.post(
        "/admin/points/adjust/",
        data={"idempotency_key": "k" * 32, "customer": str(member), "amount": "5", "reason": "x"},
    )
    assert response.status_code == 403
    assert _balance(app, member) == 100


def test_coupon_templates_in_major_units_and_percent(as_role, app):
    owner = as_role(Role.OWNER)
    base = {"per_customer_limit": "1", "scope": "all", "active": "y", "claimable": "y"}
    response = owner.post(
        "/admin/templates/new/",
        data={
            **base,
            "name": "Spend 100 save 15",
            "name_en": "Spend ¥100, save ¥15",
            "kind": "threshold",
            "value_text": "15.00",
            "threshold": "100",
            "total_quantity": "100",  # a new template has no claims to compare it with
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    response = owner.post(
        "/admin/templates/new/",
        data={**base, "name": "12.5% off", "kind": "percent", "value_text": "12.5", "cap": "30"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    bad = owner.post(
        "/admin/templates/new/",
        data={**base, "name": "Broken", "kind": "fixed", "value_text": "1.234"},
    )
    assert "Enter an amount such as 12.50." in bad.get_data(as_text=True)
    with app.app_context():
        found = {
            t.name: (t.kind, t.value, t.threshold, t.cap, t.total_quantity)
            for t in db.session.scalars(select(CouponTemplate))
        }
        assert found == {
            "Spend 100 save 15": ("threshold", 1500, 10000, None, 100),
            "12.5% off": ("percent", 1250, 0, 3000, None),
        }
        english = db.session.scalars(select(CouponTemplate.name_en).order_by(CouponTemplate.id))
        assert list(english) == ["Spend ¥100, save ¥15", ""]
        assert (
            db.session.scalar(
                select(func.count(AuditLog.id)).where(AuditLog.action == "coupon_template.create")
            )
            == 2
        )
    listing = owner.get("/admin/templates/").get_data(as_text=True)
    assert "12.5% off (up to ¥30.00)" in listing
    assert "¥15.00 off on ¥100.00 or more" in listing


def test_coupon_scope_ids_must_exist(as_role, shop_data, app):
    owner = as_role(Role.OWNER)
    data = {
        "name": "Store A only",
        "kind": "fixed",
        "value_text": "5",
        "per_customer_limit": "1",
        "scope": "stores",
        "active": "y",
    }
    refused = owner.post("/admin/templates/new/", data={**data, "scope_ids": "999"})
    assert "No Stores with the ids 999." in refused.get_data(as_text=True)
    done = owner.post("/admin/templates/new/", data={**data, "scope_ids": str(shop_data.store_a)})
    assert done.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(CouponTemplate.scope_ids)) == [shop_data.store_a]


def test_tier_with_tasks(as_role, shop_data, app):
    owner = as_role(Role.OWNER)
    response = owner.post(
        "/admin/tiers/new/",
        data={
            "name": "Gold",
            "rank": "2",
            "discount_bp": "5",
            "points_multiplier_pct": "150",
            "free_shipping_from": "99.00",
            "tasks-0-kind": "spend",
            "tasks-0-amount": "500.00",
            "tasks-0-days": "90",
            "tasks-1-kind": "buy_product",
            "tasks-1-product_id": str(shop_data.product_a),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        tier = db.session.scalar(select(MemberTier))
        assert (tier.discount_bp, tier.points_multiplier_pct, tier.free_shipping_from) == (
            500,
            150,
            9900,
        )
        tasks = sorted((t.kind, t.amount, t.days, t.product_id) for t in tier.tasks)
        assert tasks == [("buy_product", 0, None, shop_data.product_a), ("spend", 50000, 90, None)]
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "member_tier.create"))
        assert len(entry.after["tasks"]) == 2
    listing = owner.get("/admin/tiers/").get_data(as_text=True)
    assert "Spend ¥500.00 within 90 days; Buy Green Tea" in listing
    # The list shows a multiplier (×1.5) under a header without "%"; the form asks a percent.
    chinese = {"Accept-Language": "zh-CN"}
    listing = owner.get("/admin/tiers/", headers=chinese).get_data(as_text=True)
    assert "×1.5" in listing and "积分倍率（%）" not in listing and "积分倍率" in listing
    assert "积分倍率（%）" in owner.get("/admin/tiers/new/", headers=chinese).get_data(as_text=True)
    incomplete = owner.post(
        "/admin/tiers/new/",
        data={
            "name": "Silver",
            "rank": "1",
            "discount_bp": "0",
            "points_multiplier_pct": "100",
            "tasks-0-kind": "refer",
        },
    )
    assert "Enter how many friends" in incomplete.get_data(as_text=True)


def test_loyalty_settings_change_is_audited(as_role, app):
    owner = as_role(Role.OWNER)
    form = owner.get("/admin/loyalty/", follow_redirects=True).get_data(as_text=True)
    assert "What one point is worth" in form
    with app.app_context():
        row_id = db.session.scalar(select(LoyaltySettings.id))
    response = owner.post(
        f"/admin/loyalty/edit/?id={row_id}",
        data={
            "points_per_unit": "2",
            "credit_on": "settled",
            "settle_days": "7",
            "point_value": "0.02",
            "redeem_cap_pct": "50",
            "redeem_cap_points": "100000",
            "expiry_months": "12",
            "referral_reward_points": "500",
            "referral_reward_template_id": "",
            "welcome_template_id": "",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(LoyaltySettings, row_id)
        assert (row.points_per_unit, row.credit_on, row.point_value) == (2, "settled", 2)
        entry = db.session.scalar(
            select(AuditLog).where(AuditLog.action == "loyalty_settings.update")
        )
        assert entry.before == {"points_per_unit": 1, "credit_on": "paid", "point_value": 1}
        assert entry.after == {"points_per_unit": 2, "credit_on": "settled", "point_value": 2}


def test_the_coupon_for_referred_friends_is_set_in_the_settings(as_role, app):
    owner = as_role(Role.OWNER)
    owner.get("/admin/loyalty/", follow_redirects=True)  # the row is made on first sight
    with app.app_context():
        row_id = db.session.scalar(select(LoyaltySettings.id))
        template_id = make_template("For friends", value=1500, claimable=False).id
        db.session.commit()
    form = owner.get(f"/admin/loyalty/edit/?id={row_id}").get_data(as_text=True)
    assert "Bring a friend: coupon for the friend" in form
    response = owner.post(
        f"/admin/loyalty/edit/?id={row_id}",
        data={
            "points_per_unit": "1",
            "credit_on": "paid",
            "settle_days": "7",
            "point_value": "0.01",
            "redeem_cap_pct": "50",
            "redeem_cap_points": "100000",
            "expiry_months": "12",
            "referral_reward_points": "500",
            "referral_reward_template_id": "",
            "referral_friend_template_id": str(template_id),
            "welcome_template_id": "",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(LoyaltySettings, row_id).referral_friend_template_id == template_id


def test_finance_reads_loyalty_settings(as_role):
    finance = as_role(Role.FINANCE)
    response = finance.get("/admin/loyalty/")
    assert response.status_code == 302 and "/details/" in response.headers["Location"]
    assert "When the order is paid" in finance.get(response.headers["Location"]).get_data(
        as_text=True
    )


@pytest.mark.csrf
class TestWithCsrf:
    def test_points_adjustment_needs_the_token(self, as_role, member, app):
        client = as_role(Role.OWNER)
        page = client.get("/admin/points/adjust/").get_data(as_text=True)
        form = {
            "idempotency_key": idempotency_key(page),
            "customer": str(member),
            "amount": "5",
            "reason": "Gift",
        }
        forged = client.post("/admin/points/adjust/", data=form)
        assert forged.status_code == 400
        assert "The form expired" in forged.get_data(as_text=True)
        assert _balance(app, member) == 100
        done = client.post("/admin/points/adjust/", data={**form, "csrf_token": csrf_token(page)})
        assert done.status_code == 302
        assert _balance(app, member) == 105
