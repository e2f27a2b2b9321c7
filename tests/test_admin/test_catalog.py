"""Catalog and people forms: image uploads, sanitized descriptions, stock through the ledger,
money fields, staff accounts, review moderation, and the audit entries they write."""

from __future__ import annotations

import io
import os
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import select

from shop.catalog import stock
from shop.catalog.models import Product, ProductImage, Review, StockMovement, Variant
from shop.customers.models import Customer
from shop.extensions import db
from shop.orders.models import Order
from shop.staff.models import AuditLog, Role, Staff
from tests.test_admin.conftest import PASSWORD, login


def png_bytes(size=(64, 48), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int = 30_000) -> bytes:
    """A real 1-bit PNG of side × side black pixels: about 100 KB, 900 megapixels."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def product_form(shop_data, **extra) -> dict:
    return {
        "name": "Green Tea",
        "slug": "green-tea-a",
        "store": str(shop_data.store_a),
        "description_html": "<p>Fresh</p>",
        "active": "y",
        **extra,
    }


def upload(client, shop_data, files):
    return client.post(
        f"/admin/products/edit/?id={shop_data.product_a}",
        data=product_form(shop_data, upload=files),
        content_type="multipart/form-data",
    )


def _images(app, product_id):
    with app.app_context():
        return [i.filename for i in db.session.get(Product, product_id).images]


class TestImageUpload:
    def test_png_is_stored_and_listed(self, as_role, shop_data, app):
        client = as_role(Role.MANAGER)
        response = upload(client, shop_data, [(io.BytesIO(png_bytes()), "tea.png")])
        assert response.status_code == 302
        (name,) = _images(app, shop_data.product_a)
        assert os.path.exists(os.path.join(app.instance_path, "uploads", "products", name))
        assert name in client.get("/admin/images/").get_data(as_text=True)
        assert client.get(f"/media/products/{name}").status_code == 200
        with app.app_context():
            entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "product.update"))
            assert entry.before["images"] == [] and entry.after["images"] == [name]

    @pytest.mark.parametrize(
        ("payload", "message"),
        [
            (b"GIF89a this is not an image at all", "The file is not a valid image."),
            (b"<?php echo 'hi'; ?>", "The file is not a valid image."),
            (b"", "The file is empty."),
        ],
    )
    def test_fake_images_are_refused(self, as_role, shop_data, app, payload, message):
        client = as_role(Role.OWNER)
        response = upload(client, shop_data, [(io.BytesIO(payload), "photo.png")])
        assert response.status_code == 200
        assert f"photo.png: {message}" in response.get_data(as_text=True)
        assert _images(app, shop_data.product_a) == []

    def test_no_file_chosen_is_no_upload(self, as_role, shop_data, app):
        response = upload(as_role(Role.OWNER), shop_data, [(io.BytesIO(b""), "")])
        assert response.status_code == 302
        assert _images(app, shop_data.product_a) == []

    def test_oversized_image_is_refused(self, as_role, shop_data, app):
        app.config["MAX_IMAGE_BYTES"] = 1024 * 1024
        noisy = Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3))
        buf = io.BytesIO()
        noisy.save(buf, "PNG")
        assert buf.tell() > 1024 * 1024
        response = upload(as_role(Role.OWNER), shop_data, [(io.BytesIO(buf.getvalue()), "big.png")])
        assert response.status_code == 200
        assert "big.png: The image is larger than 1 MB." in response.get_data(as_text=True)
        assert _images(app, shop_data.product_a) == []

    def test_request_over_the_upload_limit_is_413_not_500(self, as_role, shop_data, app):
        app.config["MAX_CONTENT_LENGTH"] = 50_000
        response = upload(
            as_role(Role.OWNER), shop_data, [(io.BytesIO(b"\x89PNG" + b"0" * 60_000), "x.png")]
        )
        assert response.status_code == 413
        assert _images(app, shop_data.product_a) == []

    def test_decompression_bomb_is_refused(self, as_role, shop_data, app):
        bomb = bomb_png()
        assert len(bomb) < app.config["MAX_IMAGE_BYTES"]
        response = upload(as_role(Role.OWNER), shop_data, [(io.BytesIO(bomb), "bomb.png")])
        assert response.status_code == 200
        assert "The image has too many pixels." in response.get_data(as_text=True)
        assert _images(app, shop_data.product_a) == []

    def test_one_bad_file_saves_nothing_of_the_form(self, as_role, shop_data, app):
        response = upload(
            as_role(Role.OWNER),
            shop_data,
            [(io.BytesIO(png_bytes()), "ok.png"), (io.BytesIO(b"nope"), "bad.jpg")],
        )
        assert response.status_code == 200
        assert "bad.jpg: The file is not a valid image." in response.get_data(as_text=True)
        assert _images(app, shop_data.product_a) == []


def test_description_is_sanitized_and_the_change_audited(as_role, shop_data, app):
    client = as_role(Role.OWNER)
    response = client.post(
        f"/admin/products/edit/?id={shop_data.product_a}",
        data=product_form(
            shop_data,
            description_html='<p onclick="x()">Hi <b>there</b></p><script>alert(1)</script>'
            '<a href="javascript:alert(1)">x</a>',
        ),
    )
    assert response.status_code == 302
    with app.app_context():
        html = db.session.get(Product, shop_data.product_a).description_html
        assert "<script" not in html and "onclick" not in html and "javascript:" not in html
        assert "<b>there</b>" in html
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "product.update"))
        assert entry.staff_id == shop_data.staff[Role.OWNER]
        assert entry.store_id == shop_data.store_a
        assert entry.before["slug"] != entry.after["slug"] == "green-tea-a"
        assert entry.after["description_html"] == html


def variant_form(shop_data, **extra) -> dict:
    return {"product": str(shop_data.product_a), "sku": "GT-50", "name": "50 g", "price": "48.00"}


class TestStock:
    def test_adjustment_is_a_movement_and_audited(self, as_role, shop_data, app):
        client = as_role(Role.MANAGER)
        with app.app_context():
            before = db.session.get(Variant, shop_data.variant_a).stock
        response = client.post(
            f"/admin/variants/edit/?id={shop_data.variant_a}",
            data={**variant_form(shop_data), "stock_change": "5", "stock_note": "delivery"},
        )
        assert response.status_code == 302
        with app.app_context():
            assert db.session.get(Variant, shop_data.variant_a).stock == before + 5
            movement = db.session.scalar(
                select(StockMovement).where(StockMovement.reason == "adjust")
            )
            assert (movement.delta, movement.note) == (5, "delivery")
            assert movement.staff_id == shop_data.staff[Role.MANAGER]
            entry = db.session.scalar(
                select(AuditLog).where(AuditLog.action == "variant.stock_adjust")
            )
            assert entry.before == {"stock": before}
            assert entry.after["stock"] == before + 5 and entry.after["delta"] == 5
            assert entry.store_id == shop_data.store_a
            assert stock.ledger_breaches() == []
        assert "adjust" in client.get("/admin/stock/").get_data(as_text=True)

    def test_cannot_take_more_than_is_there(self, as_role, shop_data, app):
        client = as_role(Role.OWNER)
        with app.app_context():
            before = db.session.get(Variant, shop_data.variant_a).stock
        response = client.post(
            f"/admin/variants/edit/?id={shop_data.variant_a}",
            data={**variant_form(shop_data), "name": "renamed", "stock_change": "-500"},
        )
        assert response.status_code == 200
        assert f"Only {before} in stock" in response.get_data(as_text=True)
        with app.app_context():
            variant = db.session.get(Variant, shop_data.variant_a)
            assert (variant.stock, variant.name) == (before, "50 g")
            assert db.session.scalar(select(AuditLog)) is None

    def test_stock_is_not_a_form_field(self, as_role, shop_data, app):
        client = as_role(Role.OWNER)
        page = client.get(f"/admin/variants/edit/?id={shop_data.variant_a}").get_data(as_text=True)
        assert 'name="stock"' not in page and 'name="stock_change"' in page
        with app.app_context():
            before = db.session.get(Variant, shop_data.variant_a).stock
        client.post(
            f"/admin/variants/edit/?id={shop_data.variant_a}",
            data={**variant_form(shop_data), "stock": "999"},
        )
        with app.app_context():
            assert db.session.get(Variant, shop_data.variant_a).stock == before

    def test_new_variant_with_initial_stock_and_price_in_major_units(self, as_role, shop_data, app):
        client = as_role(Role.OWNER)
        response = client.post(
            "/admin/variants/new/",
            data={
                "product": str(shop_data.product_a),
                "sku": "GT-100",
                "name": "100 g",
                "price": "88.50",
                "compare_at_price": "99",
                "stock_change": "7",
            },
        )
        assert response.status_code == 302
        with app.app_context():
            variant = db.session.scalar(select(Variant).where(Variant.sku == "GT-100"))
            assert (variant.price, variant.compare_at_price, variant.stock) == (8850, 9900, 7)
            movement = db.session.scalar(
                select(StockMovement).where(StockMovement.variant_id == variant.id)
            )
            assert (movement.reason, movement.delta) == ("initial", 7)
            created = db.session.scalar(select(AuditLog).where(AuditLog.action == "variant.create"))
            assert created.after["price"] == 8850
        listing = client.get("/admin/variants/").get_data(as_text=True)
        assert "¥88.50" in listing

    @pytest.mark.parametrize("price", ["12.345", "abc", "-1", "1e9999"])
    def test_bad_prices_are_refused(self, as_role, shop_data, app, price):
        client = as_role(Role.OWNER)
        response = client.post(
            f"/admin/variants/edit/?id={shop_data.variant_a}",
            data={**variant_form(shop_data), "price": price},
        )
        assert response.status_code == 200
        with app.app_context():
            assert db.session.get(Variant, shop_data.variant_a).price == 4800

    def test_an_empty_relation_is_offered_as_a_dash(self, as_role, shop_data, app):
        with app.app_context():
            db.session.get(Product, shop_data.product_a).store_id = None
            db.session.commit()
        page = as_role(Role.OWNER).get(f"/admin/products/edit/?id={shop_data.product_a}")
        html = page.get_data(as_text=True)
        assert '<option selected value="__None">—</option>' in html
        assert ">__None<" not in html

    def test_a_form_that_does_not_save_says_so_in_chinese(self, as_role, shop_data):
        client = as_role(Role.OWNER)
        response = client.post(
            f"/admin/variants/edit/?id={shop_data.variant_a}",
            data={**variant_form(shop_data), "price": "abc"},
            headers={"Accept-Language": "zh-CN"},
        )
        page = response.get_data(as_text=True)
        assert "保存失败：请按提示修改后再保存。" in page  # Flask-Admin's own catalogue lacks it
        assert "Failed to save record." not in page

    def test_limited_time_price_needs_its_dates(self, as_role, shop_data, app):
        client = as_role(Role.OWNER)
        response = client.post(
            f"/admin/variants/edit/?id={shop_data.variant_a}",
            data={**variant_form(shop_data), "sale_price": "30.00"},
        )
        assert "A limited-time price needs a start and an end" in response.get_data(as_text=True)
        with app.app_context():
            assert db.session.get(Variant, shop_data.variant_a).sale_price is None


class TestStaff:
    def test_owner_creates_a_manager_with_a_hashed_password(self, as_role, shop_data, app):
        owner = as_role(Role.OWNER)
        response = owner.post(
            "/admin/staff/new/",
            data={
                "email": "New.Manager@Test.example",
                "name": "New",
                "role": "manager",
                "active": "y",
                "stores": [str(shop_data.store_b)],
                "password": "a-long-password-1",
            },
        )
        assert response.status_code == 302
        with app.app_context():
            staff = db.session.scalar(
                select(Staff).where(Staff.email == "new.manager@test.example")
            )
            assert staff.password_hash != "a-long-password-1"
            assert staff.check_password("a-long-password-1")
            entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "staff.create"))
            assert entry.after["role"] == "manager"
            assert entry.after["store_ids"] == [shop_data.store_b]
            assert "password_hash" not in entry.after
        assert (
            login(app.test_client(), "new.manager@test.example", "a-long-password-1").status_code
            == 302
        )

    def test_role_and_store_changes_are_audited(self, as_role, shop_data, app):
        owner = as_role(Role.OWNER)
        manager_id = shop_data.staff[Role.MANAGER]
        response = owner.post(
            f"/admin/staff/edit/?id={manager_id}",
            data={
                "email": "manager@test.example",
                "name": "manager",
                "role": "manager",
                "active": "y",
                "stores": [str(shop_data.store_a), str(shop_data.store_b)],
            },
        )
        assert response.status_code == 302
        with app.app_context():
            entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "staff.update"))
            assert entry.before == {"store_ids": [shop_data.store_a]}
            assert entry.after == {"store_ids": [shop_data.store_a, shop_data.store_b]}
            staff = db.session.get(Staff, manager_id)
            assert staff.check_password(PASSWORD)

    def test_password_change_is_audited_without_the_hash(self, as_role, shop_data, app):
        owner = as_role(Role.OWNER)
        support_id = shop_data.staff[Role.SUPPORT]
        owner.post(
            f"/admin/staff/edit/?id={support_id}",
            data={
                "email": "support@test.example",
                "role": "support",
                "active": "y",
                "password": "another-password-2",
            },
        )
        with app.app_context():
            assert db.session.get(Staff, support_id).check_password("another-password-2")
            entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "staff.password"))
            assert entry.after == {"password": "changed"}

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"role": "manager", "password": "a-long-password-1"}, "needs at least one store"),
            ({"role": "support"}, "Set a password"),
            ({"role": "support", "password": "short"}, "Use at least 10 characters."),
        ],
    )
    def test_bad_new_accounts_are_refused(self, as_role, shop_data, app, data, message):
        owner = as_role(Role.OWNER)
        response = owner.post(
            "/admin/staff/new/", data={"email": "x@test.example", "active": "y", **data}
        )
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
        with app.app_context():
            assert db.session.scalar(select(Staff).where(Staff.email == "x@test.example")) is None

    def test_owner_cannot_demote_themselves(self, as_role, shop_data, app):
        owner = as_role(Role.OWNER)
        owner.post(
            f"/admin/staff/edit/?id={shop_data.staff[Role.OWNER]}",
            data={"email": "owner@test.example", "role": "support", "active": "y"},
        )
        with app.app_context():
            assert db.session.get(Staff, shop_data.staff[Role.OWNER]).role == Role.OWNER


def test_review_moderation_actions(as_role, shop_data, app):
    with app.app_context():
        order = db.session.get(Order, shop_data.order_a)
        customer = db.session.get(Customer, order.customer_id)
        review = Review(
            product_id=shop_data.product_a,
            order_line_id=order.lines[0].id,
            customer_id=customer.id,
            rating=5,
            body="<script>alert(1)</script>Lovely",
            author_name="L**",
        )
        db.session.add(review)
        db.session.commit()
        review_id = review.id
    client = as_role(Role.SUPPORT)
    page = client.get("/admin/reviews/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    response = client.post("/admin/reviews/action/", data={"action": "approve", "rowid": review_id})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Review, review_id).status == "approved"
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "review.approved"))
        assert entry.before == {"status": "pending"} and entry.store_id == shop_data.store_a
    client.post("/admin/reviews/action/", data={"action": "reject", "rowid": review_id})
    with app.app_context():
        assert db.session.get(Review, review_id).status == "rejected"


def test_finance_cannot_moderate_or_edit(as_role, shop_data, app):
    finance = as_role(Role.FINANCE)
    response = finance.post(
        f"/admin/variants/edit/?id={shop_data.variant_a}",
        data={**variant_form(shop_data), "stock_change": "5"},
    )
    assert response.status_code == 302
    assert finance.post("/admin/reviews/action/", data={"action": "approve"}).status_code == 403
    with app.app_context():
        assert (
            db.session.scalar(select(StockMovement).where(StockMovement.reason == "adjust")) is None
        )


def test_product_images_can_be_reordered_and_removed(as_role, shop_data, app):
    client = as_role(Role.MANAGER)
    upload(
        client, shop_data, [(io.BytesIO(png_bytes()), "a.png"), (io.BytesIO(png_bytes()), "b.png")]
    )
    with app.app_context():
        first, second = db.session.get(Product, shop_data.product_a).images
        first_id, second_id = first.id, second.id
    client.post(f"/admin/images/edit/?id={second_id}", data={"position": "-1"})
    client.post("/admin/images/delete/", data={"id": first_id})
    with app.app_context():
        assert [i.id for i in db.session.get(Product, shop_data.product_a).images] == [second_id]
        actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
        assert actions[-2:] == ["productimage.update", "productimage.delete"]
        assert db.session.get(ProductImage, first_id) is None
