"""Searchable pickers for every field that stores ids: a commission rule's target, a coupon's
scope, a tier task's product, the coupons a tier or the loyalty settings give, a customer.

``LookupView`` answers ``/admin/lookup/<kind>/?query=...&offset=...&limit=...`` with the rows
whose name (or SKU, phone) contains the query, as ``[[id, text], ...]``: the JSON Flask-Admin's
own ``select2-ajax`` widget reads, so the picker is Flask-Admin's (its Select2 and form.js,
served by the app, no CDN). Each kind says which permission reads it and limits a store
manager to their stores' rows.

``LookupField`` (one id) and ``LookupListField`` (several) are form fields drawn as that
widget. A field whose kind depends on another field of the form (a rule's scope: SKU, product,
category or store) names it with ``kind_from`` and maps its values to kinds; the page's script
(``templates/admin/siyu/base.html``) points the picker at the chosen kind, and hides it when
the choice needs no id. The fields only parse ids: whether they exist is the services' rule
(``distribution.rules.validate``, ``shop.members.coupons.check_template``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from flask import abort, jsonify, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import or_, select
from wtforms import Field

from admin.base import SecuredView
from admin.permissions import current_staff, may, store_clause, store_scope
from distribution.models import Sharer
from shop.catalog.models import Category, Product, Store, Variant
from shop.customers.models import Customer
from shop.customers.phones import mask_phone
from shop.extensions import db
from shop.members.models import CouponTemplate

PAGE = 10


def _variant_text(variant: Variant) -> str:
    return f"{variant.product.name} {variant.name} · {variant.sku}".replace("  ", " ")


def _phone(phone: str) -> str:
    return phone if may("phones.full") else mask_phone(phone)


@dataclass(frozen=True)
class Lookup:
    """What a kind of picker searches: the model, its searched columns, how a row reads, who
    may search it, and the store scope (``scope(ids)`` -> SQL condition, None: shared)."""

    model: type
    columns: tuple
    text: Callable[[object], str]
    permission: str
    scope: Callable[[list[int]], object] | None = None
    order_by: tuple = ()

    def query(self):
        stmt = select(self.model)
        ids = store_scope()
        if self.scope is not None and ids is not None:
            stmt = stmt.where(self.scope(ids))
        return stmt

    def search(self, text: str, offset: int, limit: int) -> list:
        stmt = self.query()
        if text:
            stmt = stmt.where(
                or_(*(column.icontains(text, autoescape=True) for column in self.columns))
            )
        stmt = stmt.order_by(*self.order_by, self.model.id).offset(offset).limit(limit)
        return db.session.scalars(stmt).all()

    def named(self, ids) -> list[list]:
        """``[[id, text], ...]`` of these ids, within reach, in the order given."""
        if not ids:
            return []
        rows = {
            row.id: row for row in db.session.scalars(self.query().where(self.model.id.in_(ids)))
        }
        return [[i, self.text(rows[i])] for i in ids if i in rows]


LOOKUPS: dict[str, Lookup] = {
    "product": Lookup(
        Product,
        (Product.name, Product.slug),
        lambda p: p.name,
        "catalog.view",
        lambda ids: store_clause(Product, ids),
        (Product.name,),
    ),
    "variant": Lookup(
        Variant,
        (Variant.sku, Variant.name),
        _variant_text,
        "catalog.view",
        lambda ids: store_clause(Variant, ids),
        (Variant.sku,),
    ),
    "category": Lookup(Category, (Category.name, Category.slug), lambda c: c.name, "catalog.view"),
    "store": Lookup(
        Store,
        (Store.name, Store.city),
        lambda s: f"{s.name} · {s.city}" if s.city else s.name,
        "dashboard",
        lambda ids: store_clause(Store, ids),
        (Store.name,),
    ),
    "coupon_template": Lookup(
        CouponTemplate,
        (CouponTemplate.name,),
        lambda t: t.name,
        "coupons.view",
        order_by=(CouponTemplate.name,),
    ),
    "customer": Lookup(
        Customer,
        (Customer.name, Customer.phone),
        lambda c: f"{c.name} · {_phone(c.phone)}" if c.name else _phone(c.phone),
        "customers.view",
        lambda ids: store_clause(Customer, ids),
        (Customer.name,),
    ),
    "sharer": Lookup(
        Sharer,
        (Sharer.name, Sharer.phone),
        lambda s: f"{s.name} · {_phone(s.phone)}" if s.phone else s.name,
        "distribution.view",
        lambda ids: Sharer.store_id.in_(ids),
        (Sharer.name,),
    ),
}


class LookupView(SecuredView, BaseView):
    """The pickers' search: ``[[id, text], ...]``, at most ``PAGE`` rows at a time."""

    permission = "dashboard"

    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self):
        abort(404)

    @expose("/<kind>/")
    def find(self, kind):
        lookup = LOOKUPS.get(kind)
        if lookup is None:
            abort(404)
        if current_staff() is None or not may(lookup.permission):
            abort(403)
        text = (request.args.get("query") or "").strip()[:100]
        offset = min(max(request.args.get("offset", 0, type=int), 0), 10_000)
        limit = min(max(request.args.get("limit", PAGE, type=int), 1), PAGE)
        rows = lookup.search(text, offset, limit)
        return jsonify([[row.id, lookup.text(row)] for row in rows])


# Fields --------------------------------------------------------------------------------------


def _parse_ids(text: str) -> list[int]:
    parts = [p for p in str(text or "").replace(",", " ").split() if p]
    if not all(p.isdigit() and len(p) < 10 for p in parts):
        raise ValueError(_l("Choose from the list."))
    return list(dict.fromkeys(int(p) for p in parts))


class LookupWidget:
    """Flask-Admin's ``select2-ajax`` input pointed at ``/admin/lookup/<kind>/``."""

    def __call__(self, field, **kwargs):
        kind = field.current_kind()
        ids = field.ids()
        named = LOOKUPS[kind].named(ids) if kind else []
        attrs = {
            "type": "hidden",
            "id": field.id,
            "name": field.name,
            "value": ",".join(str(i) for i in ids),
            "data-role": "select2-ajax",
            "data-url": url_for("admin_lookup.find", kind=kind or "product"),
            "data-placeholder": _("Type to search…"),
            "data-minimum-input-length": "0",
            "data-json": json.dumps(named if field.multiple else (named[0] if named else None)),
            "class": kwargs.pop("class", "") or kwargs.pop("class_", ""),
        }
        if field.multiple:
            attrs.update({"data-multiple": "1", "data-separator": ","})
        else:
            attrs["data-allow-blank"] = "1"
        if field.kind_from:
            attrs["data-lookup-from"] = field.kind_from
            attrs["data-lookup-urls"] = json.dumps(
                {
                    value: url_for("admin_lookup.find", kind=kind) if kind else ""
                    for value, kind in field.kinds.items()
                }
            )
        html = " ".join(f'{key}="{Markup.escape(value)}"' for key, value in attrs.items())
        return Markup(f"<input {html}>")


class LookupField(Field):
    """One id chosen in a searchable picker (None when empty). ``kind`` names the lookup; or
    ``kind_from`` names the form field whose value picks it through ``kinds`` (a value mapped to
    None needs no id)."""

    widget = LookupWidget()
    multiple = False

    def __init__(self, label=None, validators=None, kind=None, kind_from=None, kinds=None, **kw):
        super().__init__(label, validators, **kw)
        self.kind, self.kind_from, self.kinds = kind, kind_from, kinds or {}

    def current_kind(self) -> str | None:
        if not self.kind_from:
            return self.kind
        chosen = self._form[self.kind_from].data if self._form is not None else None
        return self.kinds.get(chosen)

    def ids(self) -> list[int]:
        if self.raw_data:
            try:
                return _parse_ids(self.raw_data[0])
            except ValueError:
                return []
        return [self.data] if self.data else []

    def _value(self) -> str:
        return ",".join(str(i) for i in self.ids())

    def process_formdata(self, valuelist) -> None:
        if not valuelist:
            return
        ids = _parse_ids(valuelist[0]) if valuelist[0] else []
        if len(ids) > 1:
            raise ValueError(_l("Choose one."))
        self.data = ids[0] if ids else None


class LookupListField(LookupField):
    """Several ids chosen in a searchable picker: a sorted list, or None when empty."""

    multiple = True

    def ids(self) -> list[int]:
        if self.raw_data:
            try:
                return _parse_ids(self.raw_data[0])
            except ValueError:
                return []
        return list(self.data or [])

    def process_formdata(self, valuelist) -> None:
        if not valuelist:
            return
        self.data = sorted(_parse_ids(valuelist[0])) or None
