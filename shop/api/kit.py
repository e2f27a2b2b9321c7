"""What every API resource shares: its blueprint, list arguments, cursor pages, money, 404s.

Every route's error answer is documented once, as the OpenAPI ``default`` response
(flask-smorest's ``DEFAULT_ERROR``, whose schema is ``ErrorSchema``: ``shop.api.ShopApi``).
"""

from __future__ import annotations

from datetime import UTC

from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import Select
from werkzeug.routing import IntegerConverter

from shop.api.auth import authenticate_request
from shop.api.errors import ApiError
from shop.extensions import db

PREFIX = "/api/v1"
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
MAX_LIMIT = 250
BEARER = [{"bearerAuth": []}]


def api_blueprint(name: str, description: str) -> Blueprint:
    """A resource's blueprint under /api/v1: every route needs a key."""
    blueprint = Blueprint(name, __name__, url_prefix=PREFIX, description=description)
    blueprint.before_request(authenticate_request)
    return blueprint


class IdConverter(IntegerConverter):
    """``<id:name>``: a row id, 1 to ``MAX_ID`` (a larger number is a 404, not an overflow)."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ID)


ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def id_filter(**kwargs) -> fields.Integer:
    """An optional row id to filter a list by (``?store_id=3``)."""
    return fields.Integer(load_default=None, validate=validate.Range(1, MAX_ID), **kwargs)


MONEY_DOC = "Minor units of the currency (CNY: fen, 1234 is 12.34)."


class Money(fields.Integer):
    """An amount of money: an integer in minor units of the currency given beside it (fen
    for CNY: 1234 is ¥12.34)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", True)
        kwargs.setdefault("metadata", {"description": MONEY_DOC})
        super().__init__(**kwargs)


class ListArgs(Schema):
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": "At most 250."},
    )
    after = fields.Integer(
        load_default=None,
        validate=validate.Range(0, MAX_ID),
        metadata={"description": "The cursor: `next_after` of the previous page."},
    )
    updated_since = fields.AwareDateTime(
        load_default=None,
        default_timezone=None,
        metadata={"description": "Only what changed at or after this time (ISO 8601, UTC)."},
    )


class StoreListArgs(ListArgs):
    store_id = id_filter()


class UtcDateTime(fields.DateTime):
    """A stored time (naive UTC) as RFC 3339 with its offset: ``2026-12-06T08:00:00+00:00``."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class PageSchema(Schema):
    has_more = fields.Boolean(required=True)
    next_after = fields.Integer(allow_none=True, required=True)


def page_schema(item: type[Schema]) -> type[Schema]:
    """A page of ``item`` (``OrderSchema`` → ``OrderPageSchema``): ``data``, ``has_more``,
    ``next_after``."""
    name = item.__name__.removesuffix("Schema") + "PageSchema"
    return type(name, (PageSchema,), {"data": fields.List(fields.Nested(item), required=True)})


class ErrorSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    field = fields.String(allow_none=True)
    errors = fields.Dict()


def naive_utc(value):
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def paginate(query: Select, model, args: dict, changed=None) -> dict:
    """One page of ``query`` in id order after the cursor, filtered by ``updated_since`` on
    ``changed`` (the model's ``updated_at``, else ``created_at``)."""
    if args.get("after") is not None:
        query = query.where(model.id > args["after"])
    since = naive_utc(args.get("updated_since"))
    if since is not None:
        column = changed if changed is not None else model.created_at
        query = query.where(column >= since)
    limit = args["limit"]
    rows = db.session.scalars(query.order_by(model.id).limit(limit + 1)).unique().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"data": rows, "has_more": more, "next_after": rows[-1].id if more else None}


def not_found():
    return ApiError(404, "not_found", _("Nothing here by that name."))


def found(row):
    if row is None:
        raise not_found()
    return row
