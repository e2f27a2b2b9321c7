"""Distribution's part of the API: guides and promoters, commission entries and balances,
payouts, and each order's attribution with its explanation (registered onto /api/v1).

A store-pinned key sees the sharers of its stores and their commission and payouts.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from distribution.attribution import explain
from distribution.commission import balances
from distribution.models import Attribution, CommissionEntry, Payout, Sharer
from distribution.topics import BindingTopic, CommissionTopic
from shop.api.auth import requires, store_ids
from shop.api.kit import (
    Money,
    StoreListArgs,
    UtcDateTime,
    api_blueprint,
    found,
    id_filter,
    page_schema,
    paginate,
)
from shop.api.models import Scope
from shop.extensions import db

blp = api_blueprint("Distribution", "Guides and promoters, commission and payouts.")


class SharerSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    name = fields.String(required=True)
    store_id = fields.Integer(allow_none=True, required=True)
    parent_id = fields.Integer(allow_none=True, required=True)
    status = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class BalanceSchema(Schema):
    sharer_id = fields.Integer(required=True)
    pending = Money()
    settled = Money()
    paid = Money()


class CommissionEntrySchema(Schema):
    id = fields.Integer(required=True)
    sharer_id = fields.Integer(required=True)
    order_id = fields.Integer(allow_none=True, required=True)
    order_line_id = fields.Integer(allow_none=True, required=True)
    level = fields.Integer(required=True)
    kind = fields.String(required=True)
    bucket = fields.String(required=True)
    amount = Money()
    currency = fields.String(required=True)
    rule_id = fields.Integer(allow_none=True, required=True)
    refund_id = fields.Integer(allow_none=True, required=True)
    payout_id = fields.Integer(allow_none=True, required=True)
    note = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class PayoutSchema(Schema):
    id = fields.Integer(required=True)
    sharer_id = fields.Integer(required=True)
    amount = Money()
    currency = fields.String(required=True)
    status = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class SharerListArgs(StoreListArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf(["guide", "promoter"]))


class EntryListArgs(StoreListArgs):
    sharer_id = id_filter()
    bucket = fields.String(load_default=None, validate=validate.Length(1, 16))


def _visible(query, model):
    stores = store_ids()
    if stores is None:
        return query
    if model is Sharer:
        return query.where(Sharer.store_id.in_(stores))
    return query.join(Sharer, Sharer.id == model.sharer_id).where(Sharer.store_id.in_(stores))


def _store_filter(query, model, store_id):
    if not store_id:
        return query
    if model is Sharer:
        return query.where(Sharer.store_id == store_id)
    return query.where(model.sharer_id.in_(select(Sharer.id).where(Sharer.store_id == store_id)))


@blp.route("/sharers")
@blp.arguments(SharerListArgs, location="query", as_kwargs=True)
@blp.response(200, page_schema(SharerSchema))
@requires(Scope.COMMISSIONS_READ)
def list_sharers(**args):
    """Guides and promoters."""
    query = _store_filter(_visible(select(Sharer), Sharer), Sharer, args.get("store_id"))
    if args.get("kind"):
        query = query.where(Sharer.kind == args["kind"])
    return paginate(query, Sharer, args)


@blp.route("/sharers/<id:sharer_id>/balance")
@blp.response(200, BalanceSchema)
@requires(Scope.COMMISSIONS_READ)
def sharer_balance(sharer_id: int):
    """A guide's or promoter's commission by bucket (pending, settled, paid), from the ledger."""
    sharer = found(
        db.session.scalar(_visible(select(Sharer), Sharer).where(Sharer.id == sharer_id))
    )
    totals = balances(sharer.id)
    return {"sharer_id": sharer.id, **{str(k): v for k, v in totals.items()}}


@blp.route("/commission-entries")
@blp.arguments(EntryListArgs, location="query", as_kwargs=True)
@blp.response(200, page_schema(CommissionEntrySchema))
@requires(Scope.COMMISSIONS_READ)
def list_commission_entries(**args):
    """The commission ledger: accruals, settlements, reversals and payouts, oldest first."""
    model = CommissionEntry
    query = _store_filter(_visible(select(model), model), model, args.get("store_id"))
    if args.get("sharer_id"):
        query = query.where(model.sharer_id == args["sharer_id"])
    if args.get("bucket"):
        query = query.where(model.bucket == args["bucket"])
    return paginate(query, model, args)


@blp.route("/payouts")
@blp.arguments(EntryListArgs, location="query", as_kwargs=True)
@blp.response(200, page_schema(PayoutSchema))
@requires(Scope.COMMISSIONS_READ)
def list_payouts(**args):
    """Payouts to guides and promoters."""
    query = _store_filter(_visible(select(Payout), Payout), Payout, args.get("store_id"))
    if args.get("sharer_id"):
        query = query.where(Payout.sharer_id == args["sharer_id"])
    return paginate(query, Payout, args)


def order_attribution(order) -> dict | None:
    """The order's attribution and why, for ``OrderSchema``."""
    attribution = db.session.get(Attribution, order.id)
    if attribution is None:
        return None
    return {
        "store_id": attribution.store_id,
        "sharer_id": attribution.sharer_id,
        "parent_sharer_id": attribution.parent_sharer_id,
        "link_id": attribution.link_id,
        "live_session_id": attribution.live_session_id,
        "rule": attribution.rule,
        "explanation": explain(attribution),
        "decided_at": attribution.decided_at,
    }


def _entries(*conditions) -> list[dict]:
    rows = db.session.scalars(
        select(CommissionEntry).where(*conditions).order_by(CommissionEntry.id)
    )
    return CommissionEntrySchema(many=True).dump(rows)


def _order_store(order_id: int) -> int | None:
    from shop.orders.models import Order

    order = db.session.get(Order, order_id)
    return order.store_id if order is not None else None


def on_commission_accrued(order_id: int) -> None:
    """Webhook event: the order's pending commission was written."""
    from shop.api.webhooks import emit

    entries = _entries(CommissionEntry.order_id == order_id, CommissionEntry.kind == "accrue")
    emit(
        "commission.accrued",
        str(order_id),
        _order_store(order_id),
        {"order_id": order_id, "entries": entries},
    )


def on_commission_settled(order_id: int) -> None:
    from shop.api.webhooks import emit

    entries = _entries(CommissionEntry.order_id == order_id, CommissionEntry.kind == "settle")
    emit(
        "commission.settled",
        str(order_id),
        _order_store(order_id),
        {"order_id": order_id, "entries": entries},
    )


def on_commission_reversed(order_id: int, refund_id: int) -> None:
    from shop.api.webhooks import emit

    entries = _entries(CommissionEntry.refund_id == refund_id)
    emit(
        "commission.reversed",
        f"{order_id}:{refund_id}",
        _order_store(order_id),
        {"order_id": order_id, "refund_id": refund_id, "entries": entries},
    )


def on_payout_paid(payout_id: int) -> None:
    from shop.api.webhooks import emit

    payout = db.session.get(Payout, payout_id)
    if payout is None:
        return
    sharer = db.session.get(Sharer, payout.sharer_id)
    emit(
        "payout.paid",
        str(payout_id),
        sharer.store_id if sharer else None,
        {"payout": PayoutSchema().dump(payout)},
    )


def on_customer_guide_changed(
    customer_id: int, previous: int | None, sharer_id: int, how: str, at: str
) -> None:
    """Webhook event: the sharer a customer is bound to changed. Filed under the new
    sharer's store (else the customer's)."""
    from shop.api.webhooks import customer_data, customer_store, emit

    customer = customer_data(customer_id)
    if customer is None:
        return
    sharers = {s: db.session.get(Sharer, s) for s in (previous, sharer_id) if s is not None}

    def dump(sharer_id):
        sharer = sharers.get(sharer_id)
        return SharerSchema().dump(sharer) if sharer is not None else None

    new = sharers.get(sharer_id)
    emit(
        BindingTopic.GUIDE_CHANGED.value,
        f"{customer_id}:{at}",
        (new.store_id if new is not None else None) or customer_store(customer_id),
        {
            "customer": customer,
            "previous_sharer": dump(previous),
            "sharer": dump(sharer_id),
            "reason": how,
            "changed_at": at,
        },
    )


def init_app(app) -> None:
    from shop.api.registry import register_order_attribution, register_resource
    from shop.api.webhooks import register_event

    register_resource(app, blp)
    register_order_attribution(app, order_attribution)
    for topic in (*CommissionTopic, *BindingTopic):
        register_event(app, topic.value, f"distribution.api.on_{topic.value.replace('.', '_')}")
