"""The audit log: who changed money, stock, rules or roles, when, and the values before/after."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from sqlalchemy import inspect

from shop.extensions import db
from shop.staff.models import AuditLog


def _plain(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def snapshot(obj) -> dict:
    """The column values of a model instance, as JSON-safe plain values."""
    mapper = inspect(obj).mapper
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if not attr.key.endswith("password_hash")
    }


def record(
    staff,
    action: str,
    obj=None,
    *,
    before: dict | None = None,
    after: dict | None = None,
    object_type: str | None = None,
    object_id=None,
    store_id: int | None = None,
) -> AuditLog:
    """Add an audit entry to the current transaction (committed with the change it records)."""
    entry = AuditLog(
        staff_id=getattr(staff, "id", None),
        api_key_id=getattr(staff, "api_key_id", None),
        action=action,
        object_type=object_type or (type(obj).__name__ if obj is not None else ""),
        object_id=str(object_id if object_id is not None else getattr(obj, "id", "") or ""),
        store_id=store_id if store_id is not None else getattr(obj, "store_id", None),
        before=before,
        after=after,
    )
    db.session.add(entry)
    return entry
