"""Customers: phones masked unless the key has ``phones:read``. A store-pinned key sees the
customers who ordered at its stores, as their store manager does."""

from __future__ import annotations

from sqlalchemy import exists, select

from shop.api.auth import requires, store_ids
from shop.api.kit import StoreListArgs, api_blueprint, found, page_schema, paginate
from shop.api.models import Scope
from shop.api.schemas import CustomerSchema
from shop.customers.models import Customer
from shop.extensions import db
from shop.orders.models import Order

blp = api_blueprint("Customers", "Customers (phone numbers masked unless the key may see them).")

CustomerPage = page_schema(CustomerSchema)


def ordered_at(stores: list[int]):
    return exists().where(Order.customer_id == Customer.id, Order.store_id.in_(stores))


def visible_customers():
    query = select(Customer)
    stores = store_ids()
    if stores is not None:
        query = query.where(ordered_at(stores))
    return query


@blp.route("/customers")
@blp.arguments(StoreListArgs, location="query", as_kwargs=True)
@blp.response(200, CustomerPage)
@requires(Scope.CUSTOMERS_READ)
def list_customers(**args):
    """Customers, oldest first (`updated_since`: made since)."""
    query = visible_customers()
    if args.get("store_id"):
        query = query.where(ordered_at([args["store_id"]]))
    return paginate(query, Customer, args)


@blp.route("/customers/<id:customer_id>")
@blp.response(200, CustomerSchema)
@requires(Scope.CUSTOMERS_READ)
def get_customer(customer_id: int):
    """One customer."""
    return found(db.session.scalar(visible_customers().where(Customer.id == customer_id)))
