"""Staff sign-in shared by every staff door (the admin panel, the guide workbench).

Failed attempts are rows in ``LoginAttempt``. When an e-mail has had ``LOGIN_MAX_FAILURES``
failures from one address within ``LOGIN_WINDOW``, sign-in to it from there is refused with a
message and the password is not even checked, so guessing gains nothing. The lock-out is per
e-mail and address: one address cannot lock every staff member out, and a member locked out
by someone guessing elsewhere still signs in from their own. An unknown e-mail costs the same
password-hash check as a known one, so timing does not tell which accounts exist. Failing at
one door counts at the other.

The limit holds under simultaneous attempts: each attempt writes its row before counting,
under a lock per e-mail and address (``shop.infra.locks``) held until its outcome commits, so
thirty passwords posted at once get ``LOGIN_MAX_FAILURES`` checked, not more. The address is
the connection's, or the one a configured proxy forwarded (``TRUSTED_PROXIES``).
"""

from __future__ import annotations

from collections.abc import Container
from functools import cache

from flask import current_app, request
from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.locks import serialize
from shop.staff.models import LoginAttempt, Staff


@cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-real-password")


def client_ip() -> str:
    return (request.remote_addr or "unknown")[:64]


def _recent_failures(email: str, ip: str) -> int:
    since = utcnow() - current_app.config["LOGIN_WINDOW"]
    return db.session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.email == email, LoginAttempt.ip == ip, LoginAttempt.created_at >= since)
    )


def throttled(email: str, ip: str) -> bool:
    """Whether this e-mail is locked out from this address (a quick look: ``authenticate``
    decides again under the lock)."""
    return _recent_failures(email, ip) >= current_app.config["LOGIN_MAX_FAILURES"]


def throttle_message() -> str:
    minutes = int(current_app.config["LOGIN_WINDOW"].total_seconds() // 60)
    return _("Too many failed sign-ins. Wait %(minutes)d minutes and try again.", minutes=minutes)


def _forget_old_failures() -> None:
    db.session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.created_at < utcnow() - current_app.config["LOGIN_WINDOW"]
        )
    )


def authenticate(
    email: str, password: str, ip: str, roles: Container[str], refused: str
) -> tuple[Staff | None, str]:
    """The staff member these credentials sign in, or None and the message to show.

    ``roles`` are the roles this door lets in; the others get ``refused`` (after the password
    was right, so it tells nothing to someone guessing). The attempt is written as a failure
    before the password is checked, under the lock for this e-mail and address: a locked-out
    attempt rolls it back unchecked, a right password deletes this pair's failures."""
    serialize(f"staff-sign-in:{email}:{ip}")
    attempt = LoginAttempt(email=email, ip=ip)
    db.session.add(attempt)
    db.session.flush()
    if _recent_failures(email, ip) > current_app.config["LOGIN_MAX_FAILURES"]:
        db.session.rollback()
        return None, throttle_message()
    staff = db.session.scalar(select(Staff).where(Staff.email == email))
    if staff is None:
        check_password_hash(_dummy_hash(), password)
    if staff is None or not staff.check_password(password):
        _forget_old_failures()
        db.session.commit()
        return None, _("Wrong e-mail or password.")
    db.session.execute(
        delete(LoginAttempt).where(LoginAttempt.email == email, LoginAttempt.ip == ip)
    )
    db.session.commit()
    if not staff.active:
        return None, _("This account has been deactivated.")
    if staff.role not in roles:
        return None, refused
    return staff, ""
