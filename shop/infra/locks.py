"""Serialising the callers that count rows and then add one (rate limits): a named lock held
until the caller's transaction ends.

On PostgreSQL it is a transaction-level advisory lock on the name's hash: a second caller
waits at ``serialize`` until the first commits or rolls back, then counts what the first
wrote. SQLite lets one transaction write at a time; a caller that writes its own row before
counting (as the rate limits here do) waits for the writer before it, so nothing more is
needed there. Does not commit.
"""

from __future__ import annotations

from sqlalchemy import text

from shop.extensions import db


def serialize(name: str) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
