"""Store scoping of distribution rows: a store manager reaches only the sharers of their stores
and what hangs off them (share links, visits, bindings, commission entries, payouts), and the
attributions that credit one of their stores. Promoters without a store (recruited by no guide)
are head office's."""

from __future__ import annotations

from flask import has_request_context
from flask_admin.contrib.sqla.filters import IntEqualFilter
from sqlalchemy import select

from admin.kit.pages import ToolsListView
from admin.permissions import store_scope
from distribution.models import (
    Attribution,
    Binding,
    CommissionEntry,
    Payout,
    ShareLink,
    Sharer,
    Visit,
)
from shop.extensions import db

SHARER_OWNED = (ShareLink, Visit, Binding, CommissionEntry, Payout)


def sharers_of(store_ids: list[int]):
    """The ids of the sharers of these stores (never correlated with an outer query)."""
    return select(Sharer.id).where(Sharer.store_id.in_(store_ids)).correlate(None)


def distribution_clause(model, store_ids: list[int]):
    """The condition limiting ``model`` rows to a store manager's stores."""
    if model is Sharer:
        return Sharer.store_id.in_(store_ids)
    if model is Attribution:
        return Attribution.store_id.in_(store_ids)
    if model in SHARER_OWNED:
        return model.sharer_id.in_(sharers_of(store_ids))
    raise LookupError(f"no store scope for {model.__name__}")


def scoped_sharers():
    """``select(Sharer)`` limited to the signed-in staff member's stores."""
    stmt = select(Sharer)
    ids = store_scope()
    if ids is not None:
        stmt = stmt.where(Sharer.store_id.in_(ids))
    return stmt


class SharerFilter(IntEqualFilter):
    """A "sharer equals" filter offering the sharers the signed-in staff member may see."""

    def get_options(self, view):
        if not has_request_context():
            return None
        found = db.session.scalars(scoped_sharers().order_by(Sharer.name, Sharer.id))
        return [(str(sharer.id), sharer.name) for sharer in found]


class DistributionView(ToolsListView):
    """A view of rows that belong to a store through their sharer (or the store credited)."""

    def scope(self, query, model=None):
        ids = store_scope()
        if ids is None:
            return query
        return query.filter(distribution_clause(model or self.model, ids))

    def _get_filter_groups(self):
        groups = super()._get_filter_groups()
        for items in (groups or {}).values():
            for item in items:
                flt = self._filters[item["index"]]
                if isinstance(flt, SharerFilter):
                    item["options"] = flt.get_options(self)
        return groups
