"""Staff sign-in shared by every staff door (the admin panel, the guide workbench).

Failed attempts are rows in ``LoginAttempt``. When an e-mail or an address has had
``LOGIN_MAX_FAILURES`` failures within ``LOGIN_WINDOW``, sign-in is refused with a message and
the password is not even checked, so guessing gains nothing. An unknown e-mail costs the same
password-hash check as a known one, so timing does not tell which accounts exist. The limit
is counted per e-mail and per address across all doors: failing at one counts at the other.
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
from shop.staff.models import LoginAttempt, Staff


@cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-real-password")


def client_ip() -> str:
    return (request.remote_addr or "unknown")[:64]


def _recent_failures(column, value: str) -> int:
    since = utcnow() - current_app.config["LOGIN_WINDOW"]
    return db.session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(column == value, LoginAttempt.created_at >= since)
    )


def throttled(email: str, ip: str) -> bool:
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    return (
        _recent_failures(LoginAttempt.email, email) >= limit
        or _recent_failures(LoginAttempt.ip, ip) >= limit
    )


def throttle_message() -> str:
    minutes = int(current_app.config["LOGIN_WINDOW"].total_seconds() // 60)
    return _("Too many failed sign-ins. Wait %(minutes)d minutes and try again.", minutes=minutes)


def record_failure(email: str, ip: str) -> None:
    """Count a failed attempt and forget the ones too old to matter."""
    db.session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.created_at < utcnow() - current_app.config["LOGIN_WINDOW"]
        )
    )
    db.session.add(LoginAttempt(email=email, ip=ip))
    db.session.commit()


def authenticate(
    email: str, password: str, ip: str, roles: Container[str], refused: str
) -> tuple[Staff | None, str]:
    """The staff member these credentials sign in, or None and the message to show.

    ``roles`` are the roles this door lets in; the others get ``refused`` (after the password
    was right, so it tells nothing to someone guessing). The caller has checked ``throttled``
    first."""
    staff = db.session.scalar(select(Staff).where(Staff.email == email))
    if staff is None:
        check_password_hash(_dummy_hash(), password)
        record_failure(email, ip)
        return None, _("Wrong e-mail or password.")
    if not staff.check_password(password):
        record_failure(email, ip)
        return None, _("Wrong e-mail or password.")
    if not staff.active:
        return None, _("This account has been deactivated.")
    if staff.role not in roles:
        return None, refused
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
    db.session.commit()
    return staff, ""


def safe_next(target: str | None, prefix: str, default: str) -> str:
    """``target`` when it is a path under ``prefix`` on this site, else ``default``: never an
    open redirect. Whitespace and control characters are refused: browsers drop tabs and
    newlines, so "/admin<TAB>//evil.com" would become "/admin//evil.com"."""
    if (
        target
        and target.startswith(prefix)
        and target.startswith("/")
        and "\\" not in target
        and "//" not in target
        and all(ch.isprintable() and not ch.isspace() for ch in target)
    ):
        return target
    return default
