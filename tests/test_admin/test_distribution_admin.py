"""Distribution in the admin: a store manager limited to their stores (lists, details, exports,
actions, numbers), rules drafted, back-tested and published, payouts approved and exported,
a guide leaving, promoters approved, settings and acquisition costs audited, CSRF."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from distribution.commission import balances, settle_due_commissions
from distribution.factories import make_guide, make_promoter
from distribution.models import (
    AcquisitionCost,
    Binding,
    CommissionEntry,
    CommissionRule,
    DistributionSettings,
    Payout,
    Sharer,
)
from distribution.sharing import link_for, open_link
from shop.catalog.models import Store, Variant
from shop.checkout.services import place_order
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order
from shop.staff.models import AuditLog, Role, Staff
from tests.support.shop import details
from tests.test_admin.conftest import csrf_token, csv_rows


def _sold(guide: Sharer, variant: Variant, store: Store, phone: str, owner: Staff) -> Order:
    """A customer opens the guide's link and buys; the order is paid at the store."""
    visitor = uuid.uuid4().hex
    open_link(link_for(guide, "product", variant.product_id, "wechat-group"), visitor)
    with unit_of_work():
        order = place_order(
            [(variant.id, 1)],
            details(store, phone=phone, attribution={"visitor_id": visitor}),
            uuid.uuid4().hex,
        )
    with unit_of_work():
        assert orders.mark_paid_at_store(order.id, owner)
    return order


@pytest.fixture
def dist(app, shop_data):
    """Li Na and Wang Fang guide at Store A (the manager's), Chen Jie at Store B; each of Li Na
    and Chen Jie sold one order (48.00 and 56.00), paid 10 days ago."""
    with app.app_context():
        store_a = db.session.get(Store, shop_data.store_a)
        store_b = db.session.get(Store, shop_data.store_b)
        owner = db.session.get(Staff, shop_data.staff[Role.OWNER])
        li = make_guide(store_a, "Li Na", phone="13911112222")
        wang = make_guide(store_a, "Wang Fang")
        chen = make_guide(store_b, "Chen Jie", phone="13933334444")
        pending = make_promoter("Zhao Lei", "13900001111", parent=li)
        pending.status = "pending"
        db.session.commit()
        sold_a = _sold(
            li, db.session.get(Variant, shop_data.variant_a), store_a, "13700000001", owner
        )
        sold_b = _sold(
            chen, db.session.get(Variant, shop_data.variant_b), store_b, "13700000002", owner
        )
        db.session.execute(
            update(Order)
            .where(Order.id.in_([sold_a.id, sold_b.id]))
            .values(paid_at=utcnow() - timedelta(days=10))
        )
        db.session.commit()
        return SimpleNamespace(
            li=li.id,
            wang=wang.id,
            chen=chen.id,
            pending=pending.id,
            sold_a=sold_a.id,
            sold_b=sold_b.id,
        )


class TestStoreManager:
    """manager@ manages Store A only."""

    @pytest.fixture
    def manager(self, as_role, dist):
        return as_role(Role.MANAGER)

    def test_sharer_list_detail_and_export(self, manager, dist):
        page = manager.get("/admin/sharers/").get_data(as_text=True)
        assert "Li Na" in page and "Wang Fang" in page and "Zhao Lei" in page
        assert "Chen Jie" not in page
        assert "139****2222" in page and "13911112222" not in page  # masked for managers
        assert manager.get(f"/admin/sharers/details/?id={dist.li}").status_code == 200
        assert manager.get(f"/admin/sharers/details/?id={dist.chen}").status_code == 404
        rows = csv_rows(manager.get("/admin/sharers/export/csv/"))
        assert sorted(row["Name"] for row in rows) == ["Li Na", "Wang Fang", "Zhao Lei"]
        assert {row["Phone"] for row in rows} >= {"139****2222"}
        searched = manager.get("/admin/sharers/?search=13933334444").get_data(as_text=True)
        assert "Chen Jie" not in searched

    def test_commission_ledger_list_and_export(self, manager, dist):
        page = manager.get("/admin/commission/").get_data(as_text=True)
        assert f"SY{dist.sold_a:06d}" in page and "¥4.80" in page
        assert f"SY{dist.sold_b:06d}" not in page
        # The sharer filter offers only their stores' sharers; another store's id finds nothing.
        assert "Chen Jie" not in page
        filtered = manager.get(f"/admin/commission/?flt0_0={dist.chen}").get_data(as_text=True)
        assert f"SY{dist.sold_b:06d}" not in filtered
        rows = csv_rows(manager.get("/admin/commission/export/csv/"))
        assert [(r["Sharer"], r["Order"], r["Amount"], r["Currency"]) for r in rows] == [
            ("Li Na", f"SY{dist.sold_a:06d}", "4.80", "CNY")
        ]
        assert rows[0]["Note"] == "10% of the amount paid"
        manager.get("/lang/zh_Hans_CN")
        assert "实付金额的 10%" in manager.get("/admin/commission/").get_data(as_text=True)

    @pytest.mark.parametrize(
        "url", ["/admin/links/", "/admin/visits/", "/admin/bindings/", "/admin/attribution/"]
    )
    def test_links_visits_bindings_attributions(self, manager, url):
        page = manager.get(url).get_data(as_text=True)
        assert "Li Na" in page
        assert "Chen Jie" not in page

    def test_attribution_of_another_store_is_404(self, manager, dist):
        assert manager.get(f"/admin/attribution/details/?id={dist.sold_b}").status_code == 404
        page = manager.get(f"/admin/attribution/details/?id={dist.sold_a}").get_data(as_text=True)
        assert "Credited to Li Na" in page

    def test_balances_and_numbers(self, manager, dist):
        page = manager.get("/admin/balances/").get_data(as_text=True)
        assert "Li Na" in page and "Chen Jie" not in page
        assert "Approve payout" not in page
        numbers = manager.get("/admin/numbers/?by=sharer").get_data(as_text=True)
        assert "Li Na" in numbers and "Chen Jie" not in numbers
        by_store = manager.get("/admin/numbers/").get_data(as_text=True)
        assert "Store A" in by_store and "¥48.00" in by_store
        assert "Store B" not in by_store and "¥56.00" not in by_store
        before = manager.get("/admin/numbers/?since=2020-01-01&until=2020-01-31")
        assert "No visits or orders through share links in these days." in before.get_data(
            as_text=True
        )

    def test_numbers_count_the_shops_days(self, manager, dist, app):
        """An order placed at 23:30 UTC is the next morning's in Shanghai (SHOP_TIMEZONE)."""
        with app.app_context():
            db.session.get(Order, dist.sold_a).created_at = datetime(2026, 3, 1, 23, 30)
            db.session.commit()
        first = manager.get("/admin/numbers/?since=2026-03-01&until=2026-03-01")
        second = manager.get("/admin/numbers/?since=2026-03-02&until=2026-03-02")
        assert "¥48.00" not in first.get_data(as_text=True)
        page = second.get_data(as_text=True)
        assert "¥48.00" in page and "Asia/Shanghai (GMT+08:00)" in page

    def test_no_rules_no_payouts(self, manager, dist, app):
        assert manager.get("/admin/rules/").status_code == 403
        response = manager.post("/admin/balances/approve/", data={"id": dist.li})
        assert response.status_code == 403
        with app.app_context():
            assert db.session.scalar(select(func.count(Payout.id))) == 0

    def test_actions_on_other_stores_sharers_are_404(self, manager, dist, app):
        response = manager.post(f"/admin/sharers/leave/?id={dist.chen}", data={"heir": "all"})
        assert response.status_code == 404
        response = manager.post(
            "/admin/sharers/action/", data={"action": "approve", "rowid": [dist.chen]}
        )
        assert response.status_code == 404
        with app.app_context():
            assert db.session.get(Sharer, dist.chen).status == "active"


def test_owner_sees_every_store_and_full_phones(as_role, dist):
    owner = as_role(Role.OWNER)
    page = owner.get("/admin/sharers/").get_data(as_text=True)
    assert "Chen Jie" in page and "13933334444" in page
    rows = csv_rows(owner.get("/admin/commission/export/csv/"))
    assert sorted(r["Sharer"] for r in rows) == ["Chen Jie", "Li Na"]


def test_publish_and_backtest_through_the_admin(as_role, dist, app):
    owner = as_role(Role.OWNER)
    response = owner.post(
        "/admin/rules/new/",
        data={
            "scope": "default",
            "scope_id": "0",
            "kind": "percent",
            "level1": "20",
            "level2": "5",
            "note": "Spring push",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        draft = db.session.scalar(
            select(CommissionRule).where(CommissionRule.note == "Spring push")
        )
        assert (draft.status, draft.level1_value, draft.level2_value) == ("draft", 2000, 500)
        created = db.session.scalar(
            select(AuditLog).where(AuditLog.action == "commission_rule.create")
        )
        assert created.after["level1_value"] == 2000
        draft_id = draft.id

    listing = owner.get("/admin/rules/").get_data(as_text=True)
    assert "SKU &gt; product &gt; category &gt; store &gt; default" in listing
    page = owner.get(f"/admin/rules/backtest/?id={draft_id}&days=30").get_data(as_text=True)
    # Two orders (48.00 and 56.00): 10% now (4.80 + 5.60), 20% with the draft.
    assert f"SY{dist.sold_a:06d}" in page and f"SY{dist.sold_b:06d}" in page
    assert "¥10.40" in page and "¥20.80" in page
    outside = owner.get(f"/admin/rules/backtest/?id={draft_id}&days=5").get_data(as_text=True)
    assert f"SY{dist.sold_a:06d}" not in outside

    assert owner.post("/admin/rules/publish/", data={"id": draft_id}).status_code == 302
    with app.app_context():
        rule = db.session.get(CommissionRule, draft_id)
        assert (rule.status, rule.version) == ("published", 1)
        assert db.session.scalar(
            select(AuditLog).where(AuditLog.action == "commission_rule.publish")
        )
    # Published rules never change; publishing again is refused with a message.
    edit = owner.get(f"/admin/rules/edit/?id={draft_id}")
    assert edit.status_code == 302 and "details" in edit.headers["Location"]
    again = owner.post("/admin/rules/publish/", data={"id": draft_id}, follow_redirects=True)
    assert "Only a draft can be published." in again.get_data(as_text=True)

    preview = owner.get(f"/admin/rules/preview/?order=SY{dist.sold_a:06d}").get_data(as_text=True)
    assert "20% (default rule)" in preview and "¥9.60" in preview  # would earn now
    assert "¥4.80" in preview  # what the ledger holds (accrued at 10%)
    assert "Credited to Li Na" in preview


def test_publish_action_replaces_the_rule_of_its_scope(as_role, dist, app, shop_data):
    finance = as_role(Role.FINANCE)
    for value in ("12", "15"):
        finance.post(
            "/admin/rules/new/",
            data={
                "scope": "store",
                "scope_id": str(shop_data.store_a),
                "kind": "percent",
                "level1": value,
                "level2": "0",
            },
        )
    with app.app_context():
        first, second = db.session.scalars(select(CommissionRule.id).order_by(CommissionRule.id))
    finance.post("/admin/rules/action/", data={"action": "publish", "rowid": [first]})
    finance.post("/admin/rules/action/", data={"action": "publish", "rowid": [second]})
    with app.app_context():
        rules = {r.id: (r.status, r.version) for r in db.session.scalars(select(CommissionRule))}
    assert rules == {first: ("archived", 1), second: ("published", 2)}


def test_a_rule_for_a_missing_target_is_refused(as_role, app):
    owner = as_role(Role.OWNER)
    page = owner.post(
        "/admin/rules/new/",
        data={"scope": "product", "scope_id": "999", "kind": "fixed", "level1": "5", "level2": "1"},
    ).get_data(as_text=True)
    assert "No Product has the id 999." in page
    with app.app_context():
        assert db.session.scalar(select(func.count(CommissionRule.id))) == 0


def test_approve_payout_and_export(as_role, dist, app):
    with app.app_context():
        with unit_of_work():
            assert settle_due_commissions() == 2
    finance = as_role(Role.FINANCE)
    page = finance.get("/admin/balances/").get_data(as_text=True)
    assert "Approve payout of ¥4.80" in page and "Approve payout of ¥5.60" in page

    assert finance.post("/admin/balances/approve/", data={"id": dist.li}).status_code == 302
    again = finance.post("/admin/balances/approve/", data={"id": dist.li}, follow_redirects=True)
    assert "Li Na has nothing settled to pay out." in again.get_data(as_text=True)
    with app.app_context():
        payouts = db.session.scalars(select(Payout)).all()
        assert [(p.sharer_id, p.amount, p.currency) for p in payouts] == [(dist.li, 480, "CNY")]
        assert balances(dist.li) == {"pending": 0, "settled": 0, "paid": 480}
        audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "commission.payout"))
        assert audit.after == {"sharer_id": dist.li, "amount": 480}

    rows = csv_rows(finance.get("/admin/payouts/export/csv/"))
    assert len(rows) == 1
    row = rows[0]
    assert (row["Sharer"], row["Amount"], row["Currency"], row["Approved by"]) == (
        "Li Na",
        "4.80",
        "CNY",
        "finance",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00 Asia/Shanghai", row["Date"])


@pytest.mark.parametrize(
    ("role", "rows"),
    [
        (Role.FINANCE, {"Li Na": "13911112222", "Chen Jie": "13933334444"}),
        (Role.OWNER, {"Li Na": "13911112222", "Chen Jie": "13933334444"}),
        (Role.MANAGER, {"Li Na": "139****2222"}),
    ],
)
def test_payout_export_says_whom_to_pay(as_role, dist, app, role, rows):
    """Finance pays from the export: the sharer's id and full phone; managers see it masked."""
    with app.app_context():
        with unit_of_work():
            settle_due_commissions()
    finance = as_role(Role.FINANCE)
    for sharer in (dist.li, dist.chen):
        assert finance.post("/admin/balances/approve/", data={"id": sharer}).status_code == 302
    finance.post("/admin/logout")
    exported = csv_rows(as_role(role).get("/admin/payouts/export/csv/"))
    assert {row["Sharer"]: row["Phone"] for row in exported} == rows
    ids = {"Li Na": dist.li, "Chen Jie": dist.chen}
    assert all(row["Sharer id"] == str(ids[row["Sharer"]]) for row in exported)
    page = as_role(role).get("/admin/payouts/").get_data(as_text=True)
    assert "13911112222" not in page  # the list shows no phones


def test_guide_leaves_moves_bindings(as_role, dist, app):
    with app.app_context():
        li = db.session.get(Sharer, dist.li)
        for _ in range(2):
            open_link(link_for(li, "home", 0, "moments"), uuid.uuid4().hex)
        open_before = db.session.scalar(
            select(func.count(Binding.id)).where(
                Binding.sharer_id == dist.li, Binding.active.is_(True)
            )
        )
    manager = as_role(Role.MANAGER)
    page = manager.get(f"/admin/sharers/leave/?id={dist.li}").get_data(as_text=True)
    assert "Wang Fang" in page and "Chen Jie" not in page  # only guides of the same store
    response = manager.post(f"/admin/sharers/leave/?id={dist.li}", data={"heir": str(dist.wang)})
    assert response.status_code == 302
    with app.app_context():
        li = db.session.get(Sharer, dist.li)
        assert li.status == "left" and li.staff.active is False
        moved = db.session.scalars(
            select(Binding).where(Binding.sharer_id == dist.wang, Binding.active.is_(True))
        ).all()
        assert len(moved) == open_before == 3
        assert not db.session.scalar(
            select(Binding.id).where(Binding.sharer_id == dist.li, Binding.active.is_(True))
        )
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "guide.leave"))
        assert entry.staff_id is not None and entry.after["bindings_moved"] == 3
    follow = manager.get(f"/admin/sharers/leave/?id={dist.li}", follow_redirects=True)
    assert "Li Na is not an active guide." in follow.get_data(as_text=True)


def test_approve_promoters_action(as_role, dist, app):
    manager = as_role(Role.MANAGER)
    manager.post("/admin/sharers/action/", data={"action": "approve", "rowid": [dist.pending]})
    with app.app_context():
        assert db.session.get(Sharer, dist.pending).status == "active"
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "promoter.approve"))


def test_owner_adds_a_guide_with_a_sign_in(as_role, shop_data, app):
    owner = as_role(Role.OWNER)
    response = owner.post(
        "/admin/sharers/new/",
        data={
            "name": "Sun Li",
            "store": str(shop_data.store_b),
            "phone": "139 0000 7777",
            "email": "Sun.Li@Guides.test",
            "password": "a-long-password",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        guide = db.session.scalar(select(Sharer).where(Sharer.name == "Sun Li"))
        assert (guide.kind, guide.status, guide.store_id, guide.phone) == (
            "guide",
            "active",
            shop_data.store_b,
            "13900007777",
        )
        assert guide.staff.email == "sun.li@guides.test" and guide.staff.role == Role.GUIDE
        assert guide.staff.store_ids == [shop_data.store_b]
        assert guide.staff.check_password("a-long-password")
        actions = set(db.session.scalars(select(AuditLog.action)))
        assert {"sharer.create", "staff.create"} <= actions


def test_settings_change_is_audited(as_role, app):
    owner = as_role(Role.OWNER)
    form_page = owner.get("/admin/programme/", follow_redirects=True)
    assert "Protection period (days)" in form_page.get_data(as_text=True)
    with app.app_context():
        row_id = db.session.scalar(select(DistributionSettings.id))
    response = owner.post(
        f"/admin/programme/edit/?id={row_id}",
        data={
            "binding_policy": "last-click",
            "protection_days": "7",
            "validity_days": "30",
            "depth": "1",
            "return_window_days": "14",
            "promoter_approval": "y",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        row = db.session.get(DistributionSettings, row_id)
        assert (row.binding_policy, row.protection_days, row.depth, row.return_window_days) == (
            "last-click",
            7,
            1,
            14,
        )
        assert row.promoter_approval is True and row.self_purchase_earns is False
        entry = db.session.scalar(
            select(AuditLog).where(AuditLog.action == "distribution_settings.update")
        )
        assert entry.staff_id is not None
        assert entry.before == {
            "binding_policy": "first-sharer-protected",
            "protection_days": 15,
            "depth": 2,
            "return_window_days": 7,
            "promoter_approval": False,
        }
        assert entry.after["binding_policy"] == "last-click" and entry.after["depth"] == 1

    refused = owner.post(
        f"/admin/programme/edit/?id={row_id}",
        data={
            "binding_policy": "last-click",
            "protection_days": "20",
            "validity_days": "10",
            "depth": "2",
            "return_window_days": "7",
        },
    )
    assert "cannot be shorter than the protection period" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(DistributionSettings, row_id).protection_days == 7


def test_only_owners_change_settings(as_role):
    assert as_role(Role.MANAGER).get("/admin/programme/").status_code == 403


def test_acquisition_cost_in_major_units_is_audited(as_role, dist, app):
    with app.app_context():
        customer_id = db.session.get(Order, dist.sold_a).customer_id
    finance = as_role(Role.FINANCE)
    response = finance.post(
        "/admin/acquisition/new/",
        data={"customer": str(customer_id), "amount": "60.00", "note": "Flyer"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        cost = db.session.scalar(select(AcquisitionCost))
        assert (cost.customer_id, cost.amount, cost.currency) == (customer_id, 6000, "CNY")
        entry = db.session.scalar(
            select(AuditLog).where(AuditLog.action == "acquisition_cost.create")
        )
        assert entry.after["amount"] == 6000
    twice = finance.post(
        "/admin/acquisition/new/", data={"customer": str(customer_id), "amount": "1.5"}
    )
    assert "already has a cost" in twice.get_data(as_text=True)
    # Lifetime value subtracts it: paid 48.00 less 60.00.
    numbers = finance.get("/admin/numbers/?by=sharer").get_data(as_text=True)
    assert "-¥12.00" in numbers


@pytest.mark.csrf
class TestWithCsrf:
    def test_payout_approval_needs_the_token(self, as_role, dist, app):
        with app.app_context():
            with unit_of_work():
                settle_due_commissions()
        client = as_role(Role.FINANCE)
        forged = client.post("/admin/balances/approve/", data={"id": dist.li})
        assert forged.status_code == 302
        with app.app_context():
            assert db.session.scalar(select(func.count(Payout.id))) == 0

        token = csrf_token(client.get("/admin/balances/").get_data(as_text=True))
        client.post("/admin/balances/approve/", data={"id": dist.li, "csrf_token": token})
        with app.app_context():
            assert db.session.scalar(select(Payout.amount)) == 480
            assert (
                db.session.scalar(
                    select(func.count(CommissionEntry.id)).where(CommissionEntry.kind == "payout")
                )
                == 2
            )
