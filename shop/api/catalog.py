"""Stores, products and variants with their stock; stock adjustments.

A store-pinned key sees its stores and their products only (head-office products, with no
store, are not theirs), as their store manager does.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.api.auth import actor, requires, store_ids
from shop.api.idempotency import HEADER_DOC, idempotent
from shop.api.kit import (
    ListArgs,
    StoreListArgs,
    api_blueprint,
    found,
    page_schema,
    paginate,
)
from shop.api.models import Scope
from shop.api.schemas import ProductSchema, StockMovementSchema, StoreSchema, VariantSchema
from shop.catalog import stock
from shop.catalog.models import Product, StockReason, Store, Variant
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work

blp = api_blueprint("Catalog", "Stores, products and variants with stock; stock adjustments.")

StorePage = page_schema(StoreSchema)
ProductPage = page_schema(ProductSchema)


class StockAdjustmentArgs(Schema):
    delta = fields.Integer(
        required=True,
        validate=[validate.Range(-1_000_000, 1_000_000), validate.NoneOf([0])],
        metadata={"description": "Units to add (negative: to take away); never below zero."},
    )
    note = fields.String(load_default="", validate=validate.Length(0, 255))


class StockAdjustmentSchema(Schema):
    variant = fields.Nested(VariantSchema, required=True)
    movement = fields.Nested(StockMovementSchema, required=True)


def visible_products():
    query = select(Product)
    stores = store_ids()
    if stores is not None:
        query = query.where(Product.store_id.in_(stores))
    return query


@blp.route("/stores")
@blp.arguments(ListArgs, location="query", as_kwargs=True)
@blp.response(200, StorePage)
@requires(Scope.CATALOG_READ)
def list_stores(**args):
    """Stores (`updated_since` is not tracked for stores and is ignored)."""
    query = select(Store)
    stores = store_ids()
    if stores is not None:
        query = query.where(Store.id.in_(stores))
    args = {**args, "updated_since": None}
    return paginate(query, Store, args)


@blp.route("/stores/<id:store_id>")
@blp.response(200, StoreSchema)
@requires(Scope.CATALOG_READ)
def get_store(store_id: int):
    """One store."""
    stores = store_ids()
    if stores is not None and store_id not in stores:
        return found(None)
    return found(db.session.get(Store, store_id))


@blp.route("/products")
@blp.arguments(StoreListArgs, location="query", as_kwargs=True)
@blp.response(200, ProductPage)
@requires(Scope.CATALOG_READ)
def list_products(**args):
    """Products with their variants and stock."""
    query = visible_products().options(selectinload(Product.variants))
    if args.get("store_id"):
        query = query.where(Product.store_id == args["store_id"])
    return paginate(query, Product, args)


@blp.route("/products/<id:product_id>")
@blp.response(200, ProductSchema)
@requires(Scope.CATALOG_READ)
def get_product(product_id: int):
    """One product with its variants and stock."""
    return found(db.session.scalar(visible_products().where(Product.id == product_id)))


@blp.route("/variants/<id:variant_id>")
@blp.response(200, VariantSchema)
@requires(Scope.CATALOG_READ)
def get_variant(variant_id: int):
    """One variant with its stock."""
    return _variant_or_404(variant_id)


def _variant_or_404(variant_id: int) -> Variant:
    query = select(Variant).join(Product).where(Variant.id == variant_id)
    stores = store_ids()
    if stores is not None:
        query = query.where(Product.store_id.in_(stores))
    return found(db.session.scalar(query))


@blp.route("/variants/<id:variant_id>/stock-adjustments", methods=["POST"])
@blp.doc(parameters=[HEADER_DOC])
@requires(Scope.STOCK_WRITE)
@idempotent
@blp.arguments(StockAdjustmentArgs)
@blp.response(201, StockAdjustmentSchema)
def adjust_stock(body: dict, variant_id: int):
    """Add or take away units of a variant (a stock movement and an audit entry)."""
    from shop.catalog.models import StockMovement

    variant = _variant_or_404(variant_id)
    with unit_of_work():
        stock.adjust(variant, body["delta"], StockReason.ADJUST, actor(), note=body["note"])
    movement = db.session.scalar(
        select(StockMovement)
        .where(StockMovement.variant_id == variant.id)
        .order_by(StockMovement.id.desc())
        .limit(1)
    )
    db.session.refresh(variant)
    return {"variant": variant, "movement": movement}
