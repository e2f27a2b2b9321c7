"""Each role's access, and a store manager limited to their stores everywhere."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shop.catalog import stock as stock_ledger
from shop.catalog.models import Product, StockReason, Store, Variant
from shop.extensions import db
from shop.orders.models import Order, OrderStatus
from shop.staff.models import Role, Staff
from tests.support.shop import order_for
from tests.test_admin.conftest import csv_rows, make_fast_staff

PAGES = {
    "/admin/": {Role.OWNER, Role.MANAGER, Role.FINANCE, Role.SUPPORT},
    "/admin/orders/": {Role.OWNER, Role.MANAGER, Role.FINANCE, Role.SUPPORT},
    "/admin/products/": {Role.OWNER, Role.MANAGER, Role.FINANCE, Role.SUPPORT},
    "/admin/variants/": {Role.OWNER, Role.MANAGER, Role.FINANCE, Role.SUPPORT},
    "/admin/categories/": {Role.OWNER, Role.MANAGER, Role.FINANCE, Role.SUPPORT},
    "/admin/stock/": {Role.OWNER, Role.MANAGER, Role.FINANCE},
    "/admin/refunds/": {Role.OWNER, Role.MANAGER, Role.FINANCE},
    "/admin/payments/": {Role.OWNER, Role.MANAGER, Role.FINANCE},
    "/admin/stores/": {Role.OWNER, Role.MANAGER},
    "/admin/customers/": {Role.OWNER, Role.MANAGER, Role.SUPPORT},
    "/admin/reviews/": {Role.OWNER, Role.MANAGER, Role.SUPPORT},
    "/admin/staff/": {Role.OWNER},
    "/admin/audit/": {Role.OWNER, Role.FINANCE},
}


ADMIN_ROLES = [Role.OWNER, Role.MANAGER, Role.FINANCE, Role.SUPPORT]


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_each_role_reaches_exactly_its_pages(as_role, role):
    client = as_role(role)
    for url, allowed in PAGES.items():
        status = client.get(url).status_code
        assert status == (200 if role in allowed else 403), (role, url, status)


@pytest.mark.parametrize(
    ("role", "may_edit"),
    [(Role.OWNER, True), (Role.MANAGER, True), (Role.FINANCE, False), (Role.SUPPORT, False)],
)
def test_only_catalog_editors_get_product_forms(as_role, shop_data, role, may_edit):
    client = as_role(role)
    response = client.get(f"/admin/products/edit/?id={shop_data.product_a}")
    assert response.status_code == (200 if may_edit else 302)
    listing = client.get("/admin/products/").get_data(as_text=True)
    assert ("/admin/products/new/" in listing) is may_edit


def test_menu_shows_only_reachable_views(as_role):
    page = as_role(Role.SUPPORT).get("/admin/").get_data(as_text=True)
    assert "/admin/customers/" in page and "/admin/reviews/" in page
    assert "/admin/staff/" not in page and "/admin/audit/" not in page
    assert "/admin/payments/" not in page


def test_order_actions_follow_the_role(as_role, shop_data, app):
    support = as_role(Role.SUPPORT)
    page = support.get(f"/admin/orders/details/?id={shop_data.order_a}").get_data(as_text=True)
    assert "Mark paid" not in page and "Refund…" not in page
    response = support.post("/admin/orders/act/", data={"id": shop_data.order_a, "verb": "cancel"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Order, shop_data.order_a).status == OrderStatus.AWAITING_PAYMENT


def test_finance_marks_paid_but_does_not_ship(as_role, shop_data, app):
    finance = as_role(Role.FINANCE)
    page = finance.get(f"/admin/orders/details/?id={shop_data.order_b}").get_data(as_text=True)
    assert "Mark paid" in page and "Cancel order" not in page
    finance.post("/admin/orders/act/", data={"id": shop_data.order_b, "verb": "mark_paid"})
    response = finance.post(
        "/admin/orders/act/", data={"id": shop_data.order_b, "verb": "picked_up"}
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Order, shop_data.order_b).status == OrderStatus.PAID


class TestStoreManager:
    """manager@ manages Store A only; order_b, product_b and variant_b are Store B's."""

    @pytest.fixture
    def manager(self, as_role):
        return as_role(Role.MANAGER)

    def test_order_list_shows_only_their_stores(self, manager, shop_data):
        page = manager.get("/admin/orders/").get_data(as_text=True)
        assert f"SY{shop_data.order_a:06d}" in page
        assert f"SY{shop_data.order_b:06d}" not in page
        filtered = manager.get("/admin/orders/?search=139").get_data(as_text=True)
        assert f"SY{shop_data.order_b:06d}" not in filtered

    def test_store_filter_offers_only_their_stores(self, manager):
        page = manager.get("/admin/orders/").get_data(as_text=True)
        assert "Store A" in page and "Store B" not in page

    def test_other_stores_order_page_is_404(self, manager, shop_data):
        page = manager.get(f"/admin/orders/details/?id={shop_data.order_b}")
        assert page.status_code == 404
        text = page.get_data(as_text=True)
        assert "There is no such record, or it is not in your stores" in text
        assert "This page does not exist." not in text  # not the storefront's 404 page
        assert manager.get(f"/admin/orders/refund/?id={shop_data.order_b}").status_code == 404
        assert manager.get(f"/admin/orders/details/?id={shop_data.order_a}").status_code == 200
        assert manager.get("/admin/orders/details/?id=x'1").status_code == 404

    def test_export_holds_only_their_orders(self, manager, shop_data):
        rows = csv_rows(manager.get("/admin/orders/export/csv/"))
        assert [row["Order"] for row in rows] == [f"SY{shop_data.order_a:06d}"]

    def test_actions_on_other_stores_orders_are_404(self, manager, shop_data, app):
        response = manager.post(
            "/admin/orders/act/", data={"id": shop_data.order_b, "verb": "mark_paid"}
        )
        assert response.status_code == 404
        response = manager.post(
            f"/admin/orders/refund/?id={shop_data.order_b}",
            data={"idempotency_key": "k" * 32, f"qty_{shop_data.order_b}": "1"},
        )
        assert response.status_code == 404
        with app.app_context():
            assert db.session.get(Order, shop_data.order_b).status == OrderStatus.AWAITING_PAYMENT

    def test_catalog_is_limited_to_their_stores(self, manager, shop_data, app):
        products = manager.get("/admin/products/").get_data(as_text=True)
        assert "Green Tea" in products and "Red Tea" not in products
        assert manager.get(f"/admin/products/edit/?id={shop_data.product_b}").status_code == 404
        assert manager.get(f"/admin/variants/edit/?id={shop_data.variant_b}").status_code == 404
        assert manager.get(f"/admin/variants/details/?id={shop_data.variant_b}").status_code == 404
        stock = manager.get("/admin/stock/").get_data(as_text=True)
        with app.app_context():
            sku_a = db.session.get(Variant, shop_data.variant_a).sku
            sku_b = db.session.get(Variant, shop_data.variant_b).sku
        assert sku_a in stock and sku_b not in stock

    def test_stock_of_their_product_sold_by_another_store_hides_that_order(
        self, manager, shop_data, app
    ):
        """Store B sells Store A's product: its manager sees the stock move, not B's order."""
        with app.app_context():
            store_b = db.session.get(Store, shop_data.store_b)
            other = order_for(db.session.get(Variant, shop_data.variant_a), store_b, 1)
            other_number = f"SY{other.id:06d}"
            # Store B's staff put one back (a refund's restock): not a name A's manager sees.
            clerk = make_fast_staff("b.clerk@test.example", Role.SUPPORT)
            db.session.flush()
            stock_ledger.change_stock(
                shop_data.variant_a, 1, StockReason.RESTOCK, order_id=other.id, staff_id=clerk.id
            )
            db.session.commit()
        own_number = f"SY{shop_data.order_a:06d}"
        stock = manager.get("/admin/stock/").get_data(as_text=True)
        assert own_number in stock and "another store&#39;s order" in stock
        assert other_number not in stock and "b.clerk" not in stock
        rows = csv_rows(manager.get("/admin/stock/export/csv/"))
        orders = {row["Order"] for row in rows}
        assert own_number in orders and "another store's order" in orders
        assert other_number not in orders
        assert "b.clerk" not in {row["Staff"] for row in rows}

    def test_cannot_edit_another_stores_variant_by_post(self, manager, shop_data, app):
        response = manager.post(
            f"/admin/variants/edit/?id={shop_data.variant_b}",
            data={"product": shop_data.product_b, "sku": "X", "price": "1.00", "stock_change": 5},
        )
        assert response.status_code == 404
        with app.app_context():
            assert db.session.get(Variant, shop_data.variant_b).stock == 9

    def test_cannot_move_a_product_into_another_store(self, manager, shop_data, app):
        response = manager.post(
            f"/admin/products/edit/?id={shop_data.product_a}",
            data={"name": "Green Tea", "slug": "green-tea-x", "store": shop_data.store_b},
        )
        assert response.status_code in (200, 302)
        with app.app_context():
            assert db.session.get(Product, shop_data.product_a).store_id == shop_data.store_a

    def test_cannot_create_a_head_office_product(self, manager, shop_data, app):
        response = manager.post(
            "/admin/products/new/", data={"name": "Sneaky", "slug": "sneaky", "store": "__None"}
        )
        assert "You can only change the data of your own stores." in response.get_data(as_text=True)
        with app.app_context():
            assert db.session.scalar(select(Product).where(Product.slug == "sneaky")) is None

    def test_creates_a_product_in_their_store(self, manager, shop_data, app):
        response = manager.post(
            "/admin/products/new/",
            data={"name": "White Tea", "slug": "white-tea", "store": shop_data.store_a},
        )
        assert response.status_code == 302
        with app.app_context():
            made = db.session.scalar(select(Product).where(Product.slug == "white-tea"))
            assert made.store_id == shop_data.store_a

    def test_list_action_with_another_stores_id_is_404(self, manager, shop_data, app):
        with app.app_context():
            from shop.demo.factories import make_image

            image_b = make_image(db.session.get(Product, shop_data.product_b), (1, 2, 3)).id
            db.session.commit()
        response = manager.post(
            "/admin/images/action/", data={"action": "delete", "rowid": image_b}
        )
        assert response.status_code == 404
        with app.app_context():
            assert db.session.get(Product, shop_data.product_b).images

    def test_customers_are_those_who_ordered_in_their_stores(self, manager):
        page = manager.get("/admin/customers/").get_data(as_text=True)
        assert "138****1234" in page
        assert "139****5432" not in page

    def test_dashboard_counts_only_their_stores(self, manager):
        page = manager.get("/admin/").get_data(as_text=True)
        assert "Awaiting payment" in page
        figure = page.split("Awaiting payment", 1)[1].split('figure-value">', 1)[1]
        assert figure.startswith("1<")


def test_owner_sees_every_store(as_role, shop_data):
    owner = as_role(Role.OWNER)
    page = owner.get("/admin/orders/").get_data(as_text=True)
    assert f"SY{shop_data.order_a:06d}" in page and f"SY{shop_data.order_b:06d}" in page
    figure = owner.get("/admin/").get_data(as_text=True).split("Awaiting payment", 1)[1]
    assert figure.split('figure-value">', 1)[1].startswith("2<")


def test_staff_pages_never_show_password_hashes(as_role, shop_data, app):
    owner = as_role(Role.OWNER)
    with app.app_context():
        hashes = [s.password_hash for s in db.session.scalars(select(Staff))]
    for url in (
        "/admin/staff/",
        f"/admin/staff/details/?id={shop_data.staff[Role.MANAGER]}",
        f"/admin/staff/edit/?id={shop_data.staff[Role.MANAGER]}",
    ):
        page = owner.get(url).get_data(as_text=True)
        assert "password_hash" not in page
        assert not any(h in page for h in hashes)
        assert "pbkdf2:" not in page


def test_forms_count_only_scoped_rows(as_role, app):
    manager = as_role(Role.MANAGER)
    page = manager.get("/admin/variants/new/").get_data(as_text=True)
    assert "Green Tea" in page and "Red Tea" not in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Variant)) == 2
