"""The API's extension points, per app: the packages built on the shop add their resources
(``register_resource``) and what they know of an order (``register_order_attribution``)
without the shop importing them."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app


def _api(app: Flask | None = None) -> dict:
    return (app or current_app).extensions["siyu_api"]


def register_resource(app: Flask, blueprint) -> None:
    """Add a flask-smorest blueprint to /api/v1 and its OpenAPI document."""
    from shop.extensions import csrf

    csrf.exempt(blueprint)
    _api(app)["api"].register_blueprint(blueprint)


def register_order_attribution(app: Flask, reader: Callable) -> None:
    """``reader(order)`` returns the order's attribution as a dict (``AttributionSchema``),
    or None."""
    _api(app)["attribution_readers"].append(reader)


def order_attribution(order) -> dict | None:
    for reader in _api()["attribution_readers"]:
        found = reader(order)
        if found:
            return found
    return None
