"""API keys: made by owners (admin, ``flask api-keys create``), shown once, kept as a hash.

A key reads ``sy_<prefix>_<secret>``. The prefix finds the row; the hash of the whole key is
compared in constant time. A revoked key authenticates nothing. A key pinned to stores sees
only those stores' orders, customers and stock, as their store manager does.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select, update

from shop.api.models import ApiKey, Scope
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.staff import audit

KEY_START = "sy_"


@dataclass(frozen=True)
class ApiActor:
    """Who a change made through the API is recorded under: the key, by name. It stands where
    services take the staff member; it is no staff member (``id`` is None)."""

    api_key_id: int
    name: str
    store_ids: tuple[int, ...]
    id: None = None

    def __str__(self) -> str:
        return f"API: {self.name}"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    name: str,
    scopes: list[str],
    *,
    store_ids: list[int] | None = None,
    staff=None,
    rate_per_second: int = 2,
    burst: int = 40,
) -> tuple[ApiKey, str]:
    """Make a key; returns it and its secret, which is never shown again. Does not commit."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Give the key a name."))
    unknown = [s for s in scopes if not Scope.has(s)]
    if unknown or not scopes:
        raise InvalidInput(_("Choose at least one scope from the list."))
    if rate_per_second < 1 or burst < 1:
        raise InvalidInput(_("The rate limit must be at least 1."))
    prefix = secrets.token_hex(4)
    secret = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name[:120],
        prefix=prefix,
        secret_hash=_hash(secret),
        scopes=sorted(set(scopes)),
        store_ids=sorted(set(store_ids or [])),
        rate_per_second=rate_per_second,
        burst=burst,
        created_by_id=getattr(staff, "id", None),
    )
    db.session.add(key)
    db.session.flush()
    if staff is not None:
        audit.record(
            staff,
            "api_key.create",
            key,
            after={"name": key.name, "scopes": key.scopes, "store_ids": key.store_ids},
        )
    return key, secret


def revoke(key_id: int, staff=None) -> bool:
    """Revoke a key; True if it was active. Does not commit."""
    done = db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if done and staff is not None:
        audit.record(staff, "api_key.revoke", object_type="ApiKey", object_id=key_id)
    return bool(done)


def authenticate(presented: str) -> ApiKey | None:
    """The active key ``presented`` is, or None."""
    if not presented.startswith(KEY_START) or presented.count("_") < 2:
        return None
    prefix = presented[len(KEY_START) :].split("_", 1)[0]
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or not key.active:
        return None
    if not hmac.compare_digest(key.secret_hash, _hash(presented)):
        return None
    return key


def actor(key: ApiKey) -> ApiActor:
    return ApiActor(api_key_id=key.id, name=key.name, store_ids=tuple(key.store_ids or ()))
