"""``Idempotency-Key`` on every POST: the same key and body get the first answer again; the
same key with another body is refused (``422 idempotency_key_reused``).

The first request claims the key by inserting a row (unique per API key) and committing it
before it acts, so of two concurrent requests with one key only one acts; the other waits for
the first's answer and returns it. The answer (a success or a refusal) is stored with the
claim. A claim whose request died before answering is taken over after ``ABANDONED``; the
services' own idempotency keys (a refund's) make that second run change nothing twice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from datetime import timedelta

from flask import jsonify, request
from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from shop.api.auth import current_key
from shop.api.errors import ApiError, handle_api_error, handle_shop_error
from shop.api.models import IdempotentRequest
from shop.errors import ShopError
from shop.extensions import db
from shop.infra.clock import utcnow

HEADER = "Idempotency-Key"
WAIT_SECONDS = 10.0
ABANDONED = timedelta(minutes=1)
KEPT = timedelta(hours=24)
HEADER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Any unique string; a retry with the same key and body gets the first answer.",
}


def _fingerprint() -> str:
    raw = request.get_data(cache=True) or b""
    try:
        body = json.dumps(json.loads(raw or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(row: IdempotentRequest):
    response = jsonify(row.response)
    response.status_code = row.status_code
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _claim(api_key_id: int, key: str, fingerprint: str) -> IdempotentRequest | None:
    """Claim the key; None if this request now owns it, else the row of the one that does."""
    db.session.add(IdempotentRequest(api_key_id=api_key_id, key=key, fingerprint=fingerprint))
    try:
        db.session.commit()
        return None
    except IntegrityError:
        db.session.rollback()
    return db.session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.api_key_id == api_key_id, IdempotentRequest.key == key
        )
    )


def _take_over(row: IdempotentRequest) -> bool:
    """Take an abandoned claim (its request died unanswered); True if this request did."""
    taken = db.session.execute(
        update(IdempotentRequest)
        .where(
            IdempotentRequest.id == row.id,
            IdempotentRequest.status_code.is_(None),
            IdempotentRequest.created_at == row.created_at,
            IdempotentRequest.created_at < utcnow() - ABANDONED,
        )
        .values(created_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(taken)


def idempotent(view):
    """Wrap a POST view: claim the key, run once, keep the answer."""

    @functools.wraps(view)
    def run(*args, **kwargs):
        key = (request.headers.get(HEADER) or "").strip()
        if not key or len(key) > 255:
            raise ApiError(
                400,
                "idempotency_key_required",
                _("Send an Idempotency-Key header (1 to 255 characters) with every POST."),
                field=HEADER,
            )
        api_key_id = current_key().id
        fingerprint = _fingerprint()
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            row = _claim(api_key_id, key, fingerprint)
            if row is None:
                break
            if row.fingerprint != fingerprint:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    _("This Idempotency-Key was used with another request."),
                    field=HEADER,
                )
            if row.status_code is not None:
                return _replay(row)
            if _take_over(row):
                break
            if time.monotonic() > deadline:
                raise ApiError(
                    409,
                    "request_in_progress",
                    _("A request with this Idempotency-Key is still running; retry shortly."),
                    field=HEADER,
                    headers={"Retry-After": "1"},
                )
            db.session.rollback()
            time.sleep(0.1)
        try:
            response = view(*args, **kwargs)
        except ShopError as error:
            db.session.rollback()
            response = handle_shop_error(error)
        except ApiError as error:
            db.session.rollback()
            response = handle_api_error(error)
        except BaseException as error:
            db.session.rollback()
            _release(api_key_id, key)
            raise error
        _store(api_key_id, key, response)
        return response

    return run


def _release(api_key_id: int, key: str) -> None:
    """Forget the claim of a request that could not be understood: it may be sent again."""
    db.session.execute(
        delete(IdempotentRequest).where(
            IdempotentRequest.api_key_id == api_key_id,
            IdempotentRequest.key == key,
            IdempotentRequest.status_code.is_(None),
        )
    )
    db.session.commit()


def _store(api_key_id: int, key: str, response) -> None:
    db.session.rollback()
    db.session.execute(
        update(IdempotentRequest)
        .where(IdempotentRequest.api_key_id == api_key_id, IdempotentRequest.key == key)
        .values(status_code=response.status_code, response=response.get_json())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def forget_old() -> int:
    """Sweep: forget answers older than ``KEPT``. Its own transaction."""
    gone = db.session.execute(
        delete(IdempotentRequest).where(IdempotentRequest.created_at < utcnow() - KEPT)
    ).rowcount
    db.session.commit()
    return gone
