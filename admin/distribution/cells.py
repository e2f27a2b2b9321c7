"""Cells the distribution views share: a sharer (linked for the roles that may open them), their
store, a share link's code."""

from __future__ import annotations

from flask import url_for
from markupsafe import Markup
from sqlalchemy import select

from admin.permissions import may
from distribution.models import ShareLink, Sharer
from shop.extensions import db
from shop.orders.numbers import order_number


def sharer_cell(sharer: Sharer | None):
    if sharer is None:
        return ""
    if not may("distribution.view"):
        return sharer.name
    return Markup('<a href="{}">{}</a>').format(
        url_for("admin_sharers.details_view", id=sharer.id), sharer.name
    )


def sharer_formatter(view, context, model, name):
    return sharer_cell(getattr(model, name))


def name_formatter(view, context, model, name):
    value = getattr(model, name)
    return value.name if value is not None else ""


def order_number_formatter(view, context, model, name):
    return order_number(model.order_id)


def sharer_store_formatter(view, context, model, name):
    store = model.sharer.store if model.sharer is not None else None
    return store.name if store is not None else ""


def link_code_formatter(view, context, model, name):
    if not model.link_id:
        return ""
    return db.session.scalar(select(ShareLink.code).where(ShareLink.id == model.link_id))
