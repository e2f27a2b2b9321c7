"""Live selling's outgoing webhook events: ``live.session.started`` and ``live.session.ended``,
made from the ``live.status`` outbox topic (published in the transaction that starts or ends
the session), filed under the session's store."""

from __future__ import annotations

from datetime import datetime

from marshmallow import Schema, fields

from live.models import LiveSession, SessionStatus
from live.services import LiveTopic
from shop.api.kit import UtcDateTime
from shop.extensions import db

STARTED = "live.session.started"
ENDED = "live.session.ended"


class LiveSessionSchema(Schema):
    id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    host_id = fields.Integer(allow_none=True, required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    scheduled_at = UtcDateTime(allow_none=True, required=True)
    started_at = UtcDateTime(allow_none=True, required=True)
    ended_at = UtcDateTime(allow_none=True, required=True)


def event_type(session: LiveSession, change: str) -> str | None:
    """The event a ``live.status`` change is: the first heartbeat (the one that set
    ``started_at``), or the end; a later pause or resumption is none."""
    status, _sep, at = change.partition(":")
    if status == SessionStatus.ENDED:
        return ENDED
    if status in (SessionStatus.LIVE, SessionStatus.PAUSED) and session.started_at is not None:
        if session.started_at == datetime.fromisoformat(at):
            return STARTED
    return None


def on_live_status(session_id: int, change: str) -> None:
    from shop.api.webhooks import emit

    session = db.session.get(LiveSession, session_id)
    kind = event_type(session, change) if session is not None else None
    if kind is not None:
        emit(
            kind,
            str(session_id),
            session.store_id,
            {"session": LiveSessionSchema().dump(session)},
        )


def init_app(app) -> None:
    from shop.api.webhooks import register_event

    for kind in (STARTED, ENDED):
        register_event(app, kind, "live.webhooks.on_live_status", topic=LiveTopic.STATUS)
