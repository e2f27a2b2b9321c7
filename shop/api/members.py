"""Coupons customers hold and the points ledger (read). A store-pinned key sees those of the
customers who ordered at its stores."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.api.auth import requires, store_ids
from shop.api.customers import ordered_at
from shop.api.kit import ListArgs, api_blueprint, id_filter, page_schema, paginate
from shop.api.models import Scope
from shop.api.schemas import CouponSchema, PointsEntrySchema
from shop.customers.models import Customer
from shop.members.models import Coupon, PointsEntry

blp = api_blueprint("Members", "Coupons held by customers and the points ledger.")

CouponPage = page_schema(CouponSchema)
PointsPage = page_schema(PointsEntrySchema)


class MemberListArgs(ListArgs):
    customer_id = id_filter()


def _for_visible_customers(query, model, args):
    stores = store_ids()
    if stores is not None:
        query = query.join(Customer, Customer.id == model.customer_id).where(ordered_at(stores))
    if args.get("customer_id"):
        query = query.where(model.customer_id == args["customer_id"])
    return query


@blp.route("/coupons")
@blp.arguments(MemberListArgs, location="query", as_kwargs=True)
@blp.response(200, CouponPage)
@requires(Scope.MEMBERS_READ)
def list_coupons(**args):
    """Coupons customers claimed or were given (`updated_since`: claimed since)."""
    query = _for_visible_customers(
        select(Coupon).options(selectinload(Coupon.template)), Coupon, args
    )
    return paginate(query, Coupon, args, changed=Coupon.claimed_at)


@blp.route("/points")
@blp.arguments(MemberListArgs, location="query", as_kwargs=True)
@blp.response(200, PointsPage)
@requires(Scope.MEMBERS_READ)
def list_points(**args):
    """The points ledger: every credit and debit, oldest first."""
    return paginate(
        _for_visible_customers(select(PointsEntry), PointsEntry, args), PointsEntry, args
    )
