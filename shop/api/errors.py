"""Every API error is JSON: ``{"code", "message", "field", "errors"}``, never an HTML page.

``code`` is stable (compare it, not the wording); ``message`` is in the caller's language
(``Accept-Language``); ``field`` names the input at fault, when one is. Bad input is a 4xx,
never a 500.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from shop.errors import ShopError

API_PREFIX = "/api/"


class ApiError(Exception):
    """Answer ``status`` with ``code`` and ``message`` (and the ``field`` at fault)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    errors: dict | None = None,
    headers: dict | None = None,
):
    body = {"code": code, "message": message, "field": field, "errors": errors or {}}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_codes() -> dict[int, tuple[str, str]]:
    return {
        400: ("bad_request", _("The request could not be understood.")),
        401: ("unauthenticated", _("Send a valid API key as 'Authorization: Bearer <key>'.")),
        403: ("forbidden", _("This key may not do that.")),
        404: ("not_found", _("Nothing here by that name.")),
        405: ("method_not_allowed", _("This address does not take that method.")),
        406: ("not_acceptable", _("The API answers JSON only.")),
        409: ("conflict", _("The request conflicts with another one in progress.")),
        413: ("too_large", _("The request is too large.")),
        415: ("unsupported_media_type", _("Send the body as JSON.")),
        422: ("invalid_input", _("Some input is not valid.")),
        429: ("rate_limited", _("Too many requests: slow down and retry after a moment.")),
        500: ("internal_error", _("Something went wrong on our side. Please try again.")),
    }


def _first_field(messages) -> str | None:
    """The first field named in webargs' ``{location: {field: [messages]}}``."""
    if isinstance(messages, dict):
        for location in messages.values():
            if isinstance(location, dict) and location:
                return str(next(iter(location)))
    return None


def handle_http(exc: HTTPException):
    status = exc.code or 500
    code, message = _http_codes().get(status, ("http_error", exc.name))
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") or {}
    if status == 422 and messages:
        status = 400  # a value the schema refuses: a bad request, with the field at fault
    headers = dict(data.get("headers") or {})
    if status == 405:
        headers.update({k: v for k, v in (exc.get_headers() or []) if k == "Allow"})
    return error_response(
        status, code, message, field=_first_field(messages), errors=messages, headers=headers
    )


def handle_api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.field, headers=exc.headers)


def handle_shop_error(exc: ShopError):
    return error_response(
        409 if exc.code in {"invalid_transition", "out_of_stock"} else 400,
        exc.code,
        exc.message,
        getattr(exc, "field", None),
    )


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    code, message = _http_codes()[500]
    return error_response(500, code, message)


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def init_app(app: Flask) -> None:
    """JSON errors under /api/; the storefront's own pages elsewhere. The shop's handlers for
    single codes (404, 400, 413, 500) are wrapped so a request under /api/ never gets HTML."""
    spec = app.error_handler_spec.setdefault(None, {})
    for status, handlers in list(spec.items()):
        if status is None:
            continue
        for cls, page in list(handlers.items()):
            handlers[cls] = _api_or(page)

    @app.errorhandler(HTTPException)
    def _http(exc):
        if is_api_request():
            return handle_http(exc)
        return exc

    app.register_error_handler(ApiError, handle_api_error)


def _api_or(page):
    def handler(exc):
        if is_api_request():
            return handle_unexpected(exc)
        return page(exc)

    return handler
