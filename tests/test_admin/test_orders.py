"""Order actions from the admin: mark paid, refund with restock, double submits, masked phones."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from shop.catalog.models import StockMovement, Variant
from shop.extensions import db
from shop.orders.models import Order, OrderStatus, Refund
from shop.payments.models import Payment
from shop.staff.models import AuditLog, Role
from tests.test_admin.conftest import csv_rows, idempotency_key, signed_in


def _lines(app, order_id):
    with app.app_context():
        return [line.id for line in db.session.get(Order, order_id).lines]


def _refund_form(client, order_id) -> tuple[str, str]:
    page = client.get(f"/admin/orders/refund/?id={order_id}").get_data(as_text=True)
    return page, idempotency_key(page)


@pytest.fixture
def paid_order_a(as_role, shop_data, app):
    """Order A (2 × Green Tea at 48.00, pick-up at Store A) marked paid by its manager."""
    manager = as_role(Role.MANAGER)
    response = manager.post(
        "/admin/orders/act/", data={"id": shop_data.order_a, "verb": "mark_paid"}
    )
    assert response.status_code == 302
    return manager


def test_mark_paid_from_the_order_page(paid_order_a, shop_data, app):
    page = paid_order_a.get(f"/admin/orders/details/?id={shop_data.order_a}").get_data(as_text=True)
    assert f"Order SY{shop_data.order_a:06d} is marked paid." in page
    assert ">Mark paid</button>" not in page and ">Mark picked up</button>" in page
    assert "¥96.00" in page
    with app.app_context():
        order = db.session.get(Order, shop_data.order_a)
        assert order.status == OrderStatus.PAID
        payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
        assert (payment.amount, payment.provider) == (9600, "store")
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "order.mark_paid"))
        assert entry.staff_id == shop_data.staff[Role.MANAGER]
        assert entry.store_id == shop_data.store_a
        assert entry.before == {"status": "awaiting_payment"}
        assert entry.after["status"] == "paid"


def test_marking_paid_twice_changes_nothing_more(paid_order_a, shop_data, app):
    response = paid_order_a.post(
        "/admin/orders/act/", data={"id": shop_data.order_a, "verb": "mark_paid"}
    )
    assert response.status_code == 302
    page = paid_order_a.get(response.headers["Location"]).get_data(as_text=True)
    assert "not awaiting payment" in page
    with app.app_context():
        assert len(db.session.scalars(select(Payment)).all()) == 1


def test_pick_up_and_complete(paid_order_a, shop_data, app):
    for verb in ("picked_up", "complete"):
        paid_order_a.post("/admin/orders/act/", data={"id": shop_data.order_a, "verb": verb})
    with app.app_context():
        assert db.session.get(Order, shop_data.order_a).status == OrderStatus.COMPLETED
        actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["order.mark_paid", "order.picked_up", "order.complete"]


def test_refund_one_unit_with_restock(paid_order_a, shop_data, app):
    (line_id,) = _lines(app, shop_data.order_a)
    page, key = _refund_form(paid_order_a, shop_data.order_a)
    assert "Green Tea" in page and "¥48.00" in page
    with app.app_context():
        stock_before = db.session.get(Variant, shop_data.variant_a).stock

    response = paid_order_a.post(
        f"/admin/orders/refund/?id={shop_data.order_a}",
        data={
            "idempotency_key": key,
            f"qty_{line_id}": "1",
            "restock": "y",
            "reason": "damaged box",
        },
    )
    assert response.status_code == 302
    details = paid_order_a.get(response.headers["Location"]).get_data(as_text=True)
    assert "Refunded ¥48.00." in details

    with app.app_context():
        order = db.session.get(Order, shop_data.order_a)
        assert order.refunded_amount == 4800 and order.status == OrderStatus.PAID
        refund = db.session.scalar(select(Refund))
        assert (refund.amount, refund.restock, refund.reason) == (4800, True, "damaged box")
        assert refund.staff_id == shop_data.staff[Role.MANAGER]
        movement = db.session.scalar(select(StockMovement).where(StockMovement.reason == "restock"))
        assert (movement.variant_id, movement.delta, movement.order_id) == (
            shop_data.variant_a,
            1,
            order.id,
        )
        assert db.session.get(Variant, shop_data.variant_a).stock == stock_before + 1
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "order.refund"))
        assert entry.before == {"status": "paid", "refunded_amount": 0}
        assert entry.after["refunded_amount"] == 4800
        assert entry.after["lines"] == {str(line_id): 1}
        assert entry.after["restock"] is True


def test_double_submitted_refund_makes_one_refund(paid_order_a, shop_data, app):
    (line_id,) = _lines(app, shop_data.order_a)
    _page, key = _refund_form(paid_order_a, shop_data.order_a)
    data = {"idempotency_key": key, f"qty_{line_id}": "1", "restock": "y"}
    first = paid_order_a.post(f"/admin/orders/refund/?id={shop_data.order_a}", data=data)
    second = paid_order_a.post(f"/admin/orders/refund/?id={shop_data.order_a}", data=data)
    assert first.status_code == second.status_code == 302
    page = paid_order_a.get(second.headers["Location"]).get_data(as_text=True)
    assert "This refund was already made." in page
    form, _key = _refund_form(paid_order_a, shop_data.order_a)
    assert "Left to refund" in form and "1 · ¥48.00" in form  # one refunded, ¥48 of ¥96 left
    with app.app_context():
        assert len(db.session.scalars(select(Refund)).all()) == 1
        assert db.session.get(Order, shop_data.order_a).refunded_amount == 4800
        restocks = db.session.scalars(
            select(StockMovement).where(StockMovement.reason == "restock")
        ).all()
        assert len(restocks) == 1


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("3", "at most 2 can still be refunded"),
        ("-1", "Quantities must be whole numbers"),
        ("abc", "Quantities must be whole numbers"),
        ("99999999999", "Quantities must be whole numbers"),
        ("0", "Choose at least one item to refund."),
    ],
)
def test_bad_refund_quantities_are_refused(paid_order_a, shop_data, app, quantity, message):
    (line_id,) = _lines(app, shop_data.order_a)
    _page, key = _refund_form(paid_order_a, shop_data.order_a)
    response = paid_order_a.post(
        f"/admin/orders/refund/?id={shop_data.order_a}",
        data={"idempotency_key": key, f"qty_{line_id}": quantity},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert f'value="{key}"' in page  # the same key, so fixing and resubmitting is still one refund
    with app.app_context():
        assert db.session.scalars(select(Refund)).all() == []


def test_unpaid_orders_cannot_be_refunded(as_role, shop_data, app):
    owner = as_role(Role.OWNER)
    response = owner.get(f"/admin/orders/refund/?id={shop_data.order_a}")
    assert response.status_code == 302
    (line_id,) = _lines(app, shop_data.order_a)
    owner.post(
        f"/admin/orders/refund/?id={shop_data.order_a}",
        data={"idempotency_key": "a" * 32, f"qty_{line_id}": "1"},
    )
    with app.app_context():
        assert db.session.scalars(select(Refund)).all() == []


def test_full_refund_marks_the_order_refunded(paid_order_a, shop_data, app):
    (line_id,) = _lines(app, shop_data.order_a)
    _page, key = _refund_form(paid_order_a, shop_data.order_a)
    paid_order_a.post(
        f"/admin/orders/refund/?id={shop_data.order_a}",
        data={"idempotency_key": key, f"qty_{line_id}": "2"},
    )
    with app.app_context():
        order = db.session.get(Order, shop_data.order_a)
        assert (order.status, order.refunded_amount) == (OrderStatus.REFUNDED, 9600)
        assert (
            db.session.scalars(select(StockMovement).where(StockMovement.reason == "restock")).all()
            == []
        )


def test_cancel_releases_stock(as_role, shop_data, app):
    owner = as_role(Role.OWNER)
    owner.post("/admin/orders/act/", data={"id": shop_data.order_b, "verb": "cancel"})
    with app.app_context():
        assert db.session.get(Order, shop_data.order_b).status == OrderStatus.CANCELLED
        assert db.session.get(Variant, shop_data.variant_b).stock == 10


def test_unknown_verb_and_missing_ids_are_not_errors(as_role, shop_data):
    owner = as_role(Role.OWNER)
    assert (
        owner.post("/admin/orders/act/", data={"id": shop_data.order_a, "verb": "x"}).status_code
        == 404
    )
    assert owner.post("/admin/orders/act/", data={"id": "", "verb": "cancel"}).status_code == 302
    assert owner.get("/admin/orders/refund/").status_code == 404
    assert owner.get("/admin/orders/details/?id=999999").status_code == 404


class TestPhones:
    """Owner and support see phones; managers and finance see 138****1234, exports too."""

    @pytest.mark.parametrize(
        ("role", "full"),
        [(Role.OWNER, True), (Role.SUPPORT, True), (Role.MANAGER, False), (Role.FINANCE, False)],
    )
    def test_order_list_and_details(self, as_role, shop_data, role, full):
        client = as_role(role)
        for url in ("/admin/orders/", f"/admin/orders/details/?id={shop_data.order_a}"):
            page = client.get(url).get_data(as_text=True)
            assert ("13812341234" in page) is full, url
            assert ("138****1234" in page) is not full, url

    @pytest.mark.parametrize(("role", "full"), [(Role.OWNER, True), (Role.MANAGER, False)])
    def test_order_export(self, as_role, shop_data, role, full):
        export = as_role(role).get("/admin/orders/export/csv/")
        rows = {row["Order"]: row for row in csv_rows(export)}
        row = rows[f"SY{shop_data.order_a:06d}"]
        assert row["Phone"] == ("13812341234" if full else "138****1234")
        assert (row["Total"], row["Currency"]) == ("96.00", "CNY")

    @pytest.mark.parametrize(("role", "full"), [(Role.SUPPORT, True), (Role.MANAGER, False)])
    def test_customers_list_and_export(self, as_role, role, full):
        client = as_role(role)
        page = client.get("/admin/customers/").get_data(as_text=True)
        assert ("13812341234" in page) is full
        assert ("138****1234" in page) is not full
        export = client.get("/admin/customers/export/csv/").get_data(as_text=True)
        assert ("13812341234" in export) is full
        assert ("138****1234" in export) is not full
        assert "<th" in page and "Tier" in page and "Points" in page
        rows = csv_rows(client.get("/admin/customers/export/csv/"))
        assert {(r["Tier"], r["Points"]) for r in rows} == {("", "0")}


def test_order_list_filters_by_store(as_role, shop_data):
    owner = as_role(Role.OWNER)
    page = owner.get("/admin/orders/").get_data(as_text=True)
    assert "Store A" in page and "Store B" in page  # the store filter's choices
    filtered = owner.get(f"/admin/orders/?flt0_0={shop_data.store_b}").get_data(as_text=True)
    assert f"SY{shop_data.order_b:06d}" in filtered
    assert f"SY{shop_data.order_a:06d}" not in filtered


def test_audit_log_shows_money_and_exports_raw_values(paid_order_a, shop_data, app):
    (line_id,) = _lines(app, shop_data.order_a)
    _page, key = _refund_form(paid_order_a, shop_data.order_a)
    paid_order_a.post(
        f"/admin/orders/refund/?id={shop_data.order_a}",
        data={"idempotency_key": key, f"qty_{line_id}": "1"},
    )
    owner = signed_in(app.test_client(), Role.OWNER)
    page = owner.get("/admin/audit/").get_data(as_text=True)
    assert "refund: ¥48.00" in page and "refunded_amount: ¥0.00" in page
    rows = {row["Action"]: row for row in csv_rows(owner.get("/admin/audit/export/csv/"))}
    assert '"refund": 4800' in rows["order.refund"]["After"]


@pytest.mark.postgres
def test_refund_form_submitted_twice_at_once_makes_one_refund(paid_order_a, shop_data, app):
    """Two browsers' worth of the same form, posted at the same moment."""
    (line_id,) = _lines(app, shop_data.order_a)
    _page, key = _refund_form(paid_order_a, shop_data.order_a)
    data = {"idempotency_key": key, f"qty_{line_id}": "1", "restock": "y"}
    clients = [paid_order_a, signed_in(app.test_client(), Role.MANAGER)]
    start = threading.Barrier(len(clients))
    statuses = []

    def submit(client):
        start.wait()
        response = client.post(f"/admin/orders/refund/?id={shop_data.order_a}", data=data)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302, 302]
    with app.app_context():
        assert len(db.session.scalars(select(Refund)).all()) == 1
        assert db.session.get(Order, shop_data.order_a).refunded_amount == 4800
        restocks = select(StockMovement).where(StockMovement.reason == "restock")
        assert len(db.session.scalars(restocks).all()) == 1


def test_stock_movement_export_is_plain_text(paid_order_a, shop_data):
    """Plain text, with the reason's label (every vocabulary column shows labels)."""
    export = paid_order_a.get("/admin/stock/export/csv/")
    reserve = next(row for row in csv_rows(export) if row["Reason"] == "Reserved")
    assert reserve["Order"] == f"SY{shop_data.order_a:06d}" and reserve["Change"] == "-2"
    assert "<a" not in export.get_data(as_text=True)


def test_admin_lists_show_a_vocabularys_labels_not_its_values(paid_order_a):
    """A column that stores a vocabulary reads in the staff member's language."""
    zh = {"Accept-Language": "zh-CN"}
    stock = paid_order_a.get("/admin/stock/", headers=zh).get_data(as_text=True)
    assert "已预留" in stock and ">reserve<" not in stock
    payments = paid_order_a.get("/admin/payments/", headers=zh).get_data(as_text=True)
    provider = payments.split('class="col-provider"', 1)[1].split("</td>", 1)[0]
    assert provider.split(">", 1)[1].strip() == "到店付款"


def test_a_store_payment_reference_never_holds_the_order_page_token(paid_order_a, shop_data, app):
    with app.app_context():
        order = db.session.get(Order, shop_data.order_a)
        token, number = order.token, order.number
        payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
        assert payment.external_id == f"store-{number}"
    listing = paid_order_a.get("/admin/payments/").get_data(as_text=True)
    assert f"store-{number}" in listing and token not in listing
    export = paid_order_a.get("/admin/payments/export/csv/").get_data(as_text=True)
    assert f"store-{number}" in export and token not in export


def test_exported_cells_cannot_run_as_formulas(as_role, shop_data, app):
    """What a customer typed (name, city, address) stays text in a spreadsheet."""
    typed = {
        "contact_name": '=HYPERLINK("http://evil.example")',
        "city": "@SUM(A1:A9)",
        "address": "-2+3",
    }
    with app.app_context():
        order = db.session.get(Order, shop_data.order_a)
        for column, value in typed.items():
            setattr(order, column, value)
        number = order.number
        db.session.commit()
    rows = csv_rows(as_role(Role.OWNER).get("/admin/orders/export/csv/"))
    row = next(row for row in rows if row["Order"] == number)
    cells = set(row.values())
    for value in typed.values():
        assert "'" + value in cells and value not in cells, value
    assert any(cell.startswith("96") for cell in cells)  # amounts stay numbers


def test_spreadsheet_safe_keeps_numbers_and_defuses_formulas():
    from admin.base import spreadsheet_safe

    assert spreadsheet_safe("-12.50") == "-12.50"
    assert spreadsheet_safe("96") == "96"
    for formula in ("=1+1", "+1", "-1+2", "@A1", "\tx", "\rx", "-cmd|' /C calc'!A0"):
        assert spreadsheet_safe(formula) == "'" + formula
    assert spreadsheet_safe("Li Lei") == "Li Lei"
    assert spreadsheet_safe(None) is None


def test_money_actions_ask_to_confirm(as_role, shop_data, app):
    manager = as_role(Role.MANAGER)
    page = manager.get(f"/admin/orders/details/?id={shop_data.order_a}").get_data(as_text=True)
    with app.app_context():
        number = db.session.get(Order, shop_data.order_a).number
    assert f"Mark order {number} paid? Only when \\u00a596.00 has been received." in page
    manager.post("/admin/orders/act/", data={"id": shop_data.order_a, "verb": "mark_paid"})
    refund_page = manager.get(f"/admin/orders/refund/?id={shop_data.order_a}")
    assert "return confirm(" in refund_page.get_data(as_text=True)
    assert "The money goes back to the customer." in refund_page.get_data(as_text=True)
