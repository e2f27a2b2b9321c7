"""Catalog views: stores, categories, products (with image upload), variants, images, stock.

Stock is never a form field: a variant's form has a "stock adjustment" that goes through
``shop.catalog.stock.change_stock`` (reason ``adjust``, or ``initial`` for a new variant), so every
change is a stock movement and an audit entry in the same transaction.
"""

from __future__ import annotations

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from admin.base import StaffModelView, StoreFilter
from admin.kit.bilingual import EMPTY_FALLS_BACK, bilingual_labels, english_field_args
from admin.kit.fields import MoneyField, image_field, note_field, stock_change_field
from admin.kit.formatters import money_formatter, staff_formatter
from admin.permissions import current_staff, store_scope
from shop.catalog import products, stock, stores
from shop.catalog.models import Product, ProductImage, Store
from shop.catalog.sanitize import clean_html
from shop.extensions import db
from shop.money import format_money
from shop.orders.numbers import order_number


def _thumbnail(filename: str, size: int = 48) -> Markup:
    return Markup('<img src="{}" alt="" width="{}" height="{}" style="object-fit:cover">').format(
        url_for("shop.media", name=filename), size, size
    )


def _product_thumbnail(view, context, model, name):
    return _thumbnail(model.images[0].filename) if model.images else ""


def _price_range(view, context, model, name):
    prices = sorted({v.price for v in model.variants})
    if not prices:
        return ""
    currency = current_app.config["SHOP_CURRENCY"]
    low, high = format_money(prices[0], currency), format_money(prices[-1], currency)
    return low if low == high else f"{low} – {high}"


def _total_stock(view, context, model, name):
    return sum(v.stock for v in model.variants)


def _variants_link(view, context, model, name):
    return Markup('<a href="{}">{}</a>').format(
        url_for("admin_variants.index_view", search=model.name), len(model.variants)
    )


def _description(view, context, model, name):
    return Markup(clean_html(getattr(model, name)))


def _order_number(view, context, model, name):
    if model.order_id is None:
        return ""
    return order_number(model.order_id) if _own_order(model) else _("another store's order")


def _order_link(view, context, model, name):
    number = _order_number(view, context, model, name)
    if model.order_id is None or not _own_order(model):
        return number
    url = url_for("admin_orders.details_view", id=model.order_id)
    return Markup('<a href="{}">{}</a>').format(url, number)


def _staff(view, context, model, name):
    """Who moved the stock; for another store's order (its refund put the items back), not
    a name from that store."""
    if model.order_id is not None and not _own_order(model):
        return "—"
    return staff_formatter(view, context, model, name)


def _own_order(movement) -> bool:
    """Whether the signed-in staff member may see the order that moved this stock: a manager
    sees the movements of their products that other stores' orders made, not those orders."""
    scope = store_scope()
    return scope is None or movement.order.store_id in scope


class StoreView(StaffModelView):
    permission = "stores.view"
    edit_permission = "stores.edit"
    column_list = ["name", "name_en", "city", "address", "active", "is_default"]
    column_labels = {
        **bilingual_labels("name", "name_en"),
        "city": _l("City"),
        "address": _l("Address"),
        "active": _l("Active"),
        "is_default": _l("Default store"),
    }
    column_descriptions = {
        "is_default": _l(
            "Owns the orders no pick-up store or guide's store claims (delivery orders without "
            "a share link). One store at most: marking one unmarks the others."
        ),
    }
    column_searchable_list = ["name", "name_en", "city"]
    form_columns = ["name", "name_en", "city", "address", "active", "is_default"]
    form_args = english_field_args("name_en")

    def on_model_change(self, form, model, is_created):
        if model.is_default:
            db.session.flush()
            stores.make_default(model.id)
        super().on_model_change(form, model, is_created)


class CategoryView(StaffModelView):
    permission = "catalog.view"
    edit_permission = "categories.edit"
    allow_delete = True
    column_list = ["name", "name_en", "slug", "position"]
    column_labels = {
        **bilingual_labels("name", "name_en", "description", "description_en"),
        "slug": _l("Slug"),
        "position": _l("Position"),
    }
    column_default_sort = "position"
    form_columns = ["name", "name_en", "slug", "description", "description_en", "position"]
    form_args = english_field_args("name_en", "description_en")
    form_widget_args = {"description": {"rows": 3}, "description_en": {"rows": 3}}


class ProductView(StaffModelView):
    permission = "catalog.view"
    edit_permission = "catalog.edit"
    details_template = "admin/siyu/product_details.html"
    column_list = [
        "image",
        "name",
        "name_en",
        "category",
        "store",
        "price",
        "stock",
        "variants",
        "active",
        "created_at",
    ]
    column_details_list = [
        "name",
        "name_en",
        "slug",
        "category",
        "store",
        "price",
        "stock",
        "active",
        "description_html",
        "description_html_en",
        "created_at",
    ]
    column_labels = {
        **bilingual_labels("name", "name_en", "description_html", "description_html_en"),
        "image": _l("Image"),
        "slug": _l("Slug"),
        "category": _l("Category"),
        "category.name": _l("Category"),
        "store": _l("Store"),
        "price": _l("Price"),
        "stock": _l("Stock"),
        "variants": _l("Variants"),
        "active": _l("Active"),
        "created_at": _l("Created"),
        "upload": _l("Add images"),
    }
    column_formatters = {
        "image": _product_thumbnail,
        "price": _price_range,
        "stock": _total_stock,
        "variants": _variants_link,
        "description_html": _description,
        "description_html_en": _description,
    }
    column_searchable_list = ["name", "name_en", "slug"]
    column_filters = ["active", "category.name", StoreFilter(Product.store_id, _l("Store"))]
    column_sortable_list = [
        "name",
        ("category", "category.name"),
        ("store", "store.name"),
        "active",
        "created_at",
    ]
    column_default_sort = ("created_at", True)
    form_columns = [
        "name",
        "name_en",
        "slug",
        "category",
        "store",
        "description_html",
        "description_html_en",
        "active",
        "upload",
    ]
    form_args = {
        **english_field_args("name_en", "description_html_en"),
        "description_html": {
            "label": bilingual_labels("description_html")["description_html"],
            "description": _l(
                "Basic HTML: paragraphs, bold, italic, lists, links. Anything else is removed."
            ),
        },
    }
    form_widget_args = {"description_html": {"rows": 8}, "description_html_en": {"rows": 8}}
    form_extra_fields = {"upload": image_field()}
    scoped_fields = {"store": Store}

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if obj is not None and obj.images:
            form.upload.description = Markup(" ").join(
                _thumbnail(image.filename, 64) for image in obj.images
            ) + Markup("<br>{}").format(_("Reorder or remove images under Product images."))
        return form

    def audit_snapshot(self, model) -> dict:
        data = super().audit_snapshot(model)
        data["images"] = [image.filename for image in model.images]
        return data

    def on_model_change(self, form, model, is_created):
        products.tidy_product(model)
        position = max((image.position for image in model.images), default=-1)
        for offset, filename in enumerate(form.upload.stored, start=1):
            model.images.append(ProductImage(filename=filename, position=position + offset))
        super().on_model_change(form, model, is_created)
        products.announce_update(model.id)


class VariantView(StaffModelView):
    permission = "catalog.view"
    edit_permission = "catalog.edit"
    column_list = ["product", "name", "name_en", "sku", "price", "sale_price", "stock", "position"]
    column_details_list = [
        "product",
        "name",
        "name_en",
        "sku",
        "price",
        "compare_at_price",
        "sale_price",
        "sale_starts_at",
        "sale_ends_at",
        "stock",
        "position",
    ]
    column_labels = {
        "product": _l("Product"),
        "product.name": _l("Product"),
        "name": _l("Variant (Chinese)"),
        "name_en": _l("Variant (English)"),
        "sku": _l("SKU"),
        "price": _l("Price"),
        "compare_at_price": _l("Compare-at price"),
        "sale_price": _l("Limited-time price"),
        "sale_starts_at": _l("Limited-time price from"),
        "sale_ends_at": _l("Limited-time price until"),
        "stock": _l("Stock"),
        "position": _l("Position"),
        "stock_change": _l("Stock adjustment"),
        "stock_note": _l("Stock note"),
    }
    column_formatters = {
        "price": money_formatter(),
        "compare_at_price": money_formatter(),
        "sale_price": money_formatter(),
    }
    column_searchable_list = ["sku", "name", "product.name"]
    column_filters = ["product.name", "sku", "stock"]
    column_sortable_list = [("product", "product.name"), "name", "sku", "price", "stock"]
    form_columns = [
        "product",
        "sku",
        "name",
        "name_en",
        "price",
        "compare_at_price",
        "sale_price",
        "sale_starts_at",
        "sale_ends_at",
        "position",
        "stock_change",
        "stock_note",
    ]
    form_overrides = {"price": MoneyField, "compare_at_price": MoneyField, "sale_price": MoneyField}
    form_args = {"name_en": {"description": EMPTY_FALLS_BACK}}
    form_extra_fields = {
        "stock_change": stock_change_field(_l("Stock adjustment")),
        "stock_note": note_field(),
    }
    scoped_fields = {"product": Product}
    audit_exclude = frozenset({"stock"})

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if obj is not None:
            form.stock_change.description = _(
                "Now %(n)d in stock. Enter the units to add, or a negative number to take "
                "away; the change is recorded as a stock movement.",
                n=obj.stock,
            )
        return form

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.stock_change.label.text = _("Initial stock")
        form.stock_change.description = _("Units in stock now; recorded as a stock movement.")
        return form

    def on_model_change(self, form, model, is_created):
        products.check_variant(model)
        super().on_model_change(form, model, is_created)
        products.announce_update(model.product_id)
        delta = form.stock_change.data
        if delta:
            reason = "initial" if is_created else "adjust"
            stock.adjust(model, delta, reason, current_staff(), form.stock_note.data)


class ProductImageView(StaffModelView):
    permission = "catalog.view"
    edit_permission = "catalog.edit"
    allow_create = False
    allow_delete = True
    column_list = ["image", "product", "position", "filename"]
    column_labels = {
        "image": _l("Image"),
        "product": _l("Product"),
        "product.name": _l("Product"),
        "position": _l("Position"),
        "filename": _l("File"),
    }
    column_formatters = {"image": lambda v, c, m, n: _thumbnail(m.filename, 96)}
    column_searchable_list = ["product.name"]
    column_sortable_list = [("product", "product.name"), "position"]
    form_columns = ["position"]


class StockMovementView(StaffModelView):
    permission = "stock.view"
    allow_create = allow_edit = False
    can_view_details = False
    export_permission = "stock.view"
    column_list = ["created_at", "variant", "delta", "reason", "order", "staff", "note"]
    column_labels = {
        "created_at": _l("When"),
        "variant": _l("Variant"),
        "variant.sku": _l("SKU"),
        "delta": _l("Change"),
        "reason": _l("Reason"),
        "order": _l("Order"),
        "staff": _l("Staff"),
        "note": _l("Note"),
    }
    column_filters = ["reason", "variant.sku", "created_at"]
    column_default_sort = ("id", True)
    column_sortable_list = ["created_at", "delta", "reason"]
    column_formatters = {"order": _order_link, "staff": _staff}
    column_formatters_export = {"order": _order_number, "staff": _staff}
