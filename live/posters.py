"""What a live session's invite poster shows (a source for ``distribution.posters``): the
session's title, when it is on (live now, or the time it starts), and "Live" written large."""

from __future__ import annotations

from flask_babel import format_datetime
from flask_babel import gettext as _

from distribution.models import LinkTarget
from distribution.posters import PosterSubject, poster_source
from live.models import LiveSession, SessionStatus
from shop.extensions import db


@poster_source(LinkTarget.LIVE)
def live_session_subject(session_id: int) -> PosterSubject | None:
    session = db.session.get(LiveSession, session_id)
    if session is None:
        return None
    if session.status in (SessionStatus.LIVE, SessionStatus.PAUSED):
        line = _("Live now")
    elif session.status == SessionStatus.ENDED:
        line = _("Replay") if session.replay_url else ""
    else:
        line = format_datetime(session.scheduled_at, "short") if session.scheduled_at else ""
    return PosterSubject(
        title=session.title,
        line=line,
        call=_("Scan the code to watch"),
        headline=_("Live"),
    )
