""" "Remind me" for a scheduled session: recorded once per phone, texted once when it goes live.

A customer taps "Remind me" on a scheduled session's room (signed in: their phone; else the
phone they type). Asking again (another tap, a reload, a race of two taps) leaves one reminder.
When the host console's heartbeat takes the session live, live selling publishes its status
(``LiveTopic.STATUS``); ``send_due`` is that topic's handler: it texts each unsent reminder
through the shop's message sender (``shop.customers.sms``), each at most once.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from live.models import LiveReminder, LiveSession, SessionStatus
from shop.customers.models import Customer
from shop.customers.phones import normalize_phone
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra.clock import utcnow


class NotScheduled(InvalidInput):
    code = "live_not_scheduled"


def is_reminded(session_id: int, phone: str | None) -> bool:
    return bool(phone) and (
        db.session.scalar(
            select(LiveReminder.id).where(
                LiveReminder.session_id == session_id, LiveReminder.phone == phone
            )
        )
        is not None
    )


def remind_me(
    session: LiveSession, *, customer: Customer | None = None, phone: str = ""
) -> tuple[LiveReminder, bool]:
    """Record a reminder for ``session`` (scheduled only) to the signed-in customer's phone,
    else to ``phone``. Returns it and whether this call made it (False: it was there already).
    Does not commit."""
    if session.status != SessionStatus.SCHEDULED:
        if session.status == SessionStatus.ENDED:
            raise NotScheduled(_("This live session has ended."))
        raise NotScheduled(_("This session is live already: watch it now."))
    number = customer.phone if customer is not None and customer.phone else ""
    number = number or normalize_phone(phone)
    existing = db.session.scalar(
        select(LiveReminder).where(
            LiveReminder.session_id == session.id, LiveReminder.phone == number
        )
    )
    if existing is not None:
        return existing, False
    reminder = LiveReminder(
        session_id=session.id,
        customer_id=customer.id if customer is not None else None,
        phone=number,
        locale=str(get_locale() or ""),
    )
    try:
        with db.session.begin_nested():  # two taps at once: the second finds the first's
            db.session.add(reminder)
            db.session.flush()
    except IntegrityError:
        existing = db.session.scalar(
            select(LiveReminder).where(
                LiveReminder.session_id == session.id, LiveReminder.phone == number
            )
        )
        return existing, False
    return reminder, True


def message(session: LiveSession, locale: str) -> str:
    """The reminder's text, in the language the customer asked in."""
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/live/{session.id}"
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        return _("%(title)s is live now: %(url)s", title=session.title, url=url)


def send_due(session_id: int, change: str = "") -> int:
    """The ``live.status`` handler: when the session went live, text every reminder not yet
    sent. Each is claimed by a conditional update committed before its text goes out, so a
    second delivery of the event (or a second status change) never texts it again; a text
    the sender could not hand over is unclaimed and raised, and the outbox retries it (at
    most once each: a crash between a claim and its text loses that one text). Returns how
    many were sent."""
    from shop.customers.sms import SendFailed, sender
    from shop.infra.unit_of_work import unit_of_work

    if not str(change).startswith(f"{SessionStatus.LIVE}:"):
        return 0
    session = db.session.get(LiveSession, session_id)
    due = db.session.execute(
        select(LiveReminder.id, LiveReminder.phone, LiveReminder.locale)
        .where(LiveReminder.session_id == session_id, LiveReminder.sent_at.is_(None))
        .order_by(LiveReminder.id)
    ).all()
    if session is None or not due:
        return 0
    texts = {locale: message(session, locale) for locale in {r.locale for r in due}}
    db.session.rollback()
    sent, failed = 0, None
    for reminder_id, phone, locale in due:
        with unit_of_work():
            claimed = db.session.execute(
                update(LiveReminder)
                .where(LiveReminder.id == reminder_id, LiveReminder.sent_at.is_(None))
                .values(sent_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
        if not claimed:
            continue
        try:
            sender().send(phone, texts[locale])
        except SendFailed as error:
            failed = error
            with unit_of_work():
                db.session.execute(
                    update(LiveReminder)
                    .where(LiveReminder.id == reminder_id)
                    .values(sent_at=None)
                    .execution_options(synchronize_session=False)
                )
        else:
            sent += 1
    if failed is not None:
        raise failed
    return sent
