"""Customer sign-in by a one-time code sent to their phone.

Codes are six digits, stored only as an HMAC keyed with the app's secret, expire after
``SIGNIN_CODE_MINUTES``, allow ``MAX_ATTEMPTS`` guesses, and are spent by a conditional
update so two simultaneous correct submissions sign in once. Sending is rate-limited per phone
(one a minute, five an hour) and per address (twenty an hour), also under simultaneous
requests: each request writes its code's row before counting, under a lock per phone and per
address (``shop.infra.locks``) held until it commits, so five requests at once send one code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from shop.customers.models import Customer, LoginCode
from shop.customers.phones import normalize_phone
from shop.customers.sms import SendFailed, sender
from shop.customers.topics import CustomerTopic
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra import outbox
from shop.infra.clock import utcnow
from shop.infra.locks import serialize

MAX_ATTEMPTS = 5
PER_PHONE_GAP = timedelta(seconds=60)
PER_PHONE_HOURLY = 5
PER_IP_HOURLY = 20


def _digest(phone: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _sent_since(column, value: str, since) -> int:
    return db.session.scalar(
        select(func.count(LoginCode.id)).where(column == value, LoginCode.created_at >= since)
    )


def request_code(raw_phone: str, ip: str) -> str:
    """Send a sign-in code to the phone; returns the normalised phone. Raises InvalidInput."""
    phone = normalize_phone(raw_phone)
    ip = ip[:64]
    serialize(f"sign-in-code:{phone}")
    serialize(f"sign-in-code-ip:{ip}")
    now = utcnow()
    code = f"{secrets.randbelow(1_000_000):06d}"
    minutes = current_app.config["SIGNIN_CODE_MINUTES"]
    db.session.add(
        LoginCode(
            phone=phone,
            code_hash=_digest(phone, code),
            ip=ip,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    db.session.flush()  # counted with the others (each count below includes this code)
    if _sent_since(LoginCode.phone, phone, now - PER_PHONE_GAP) > 1:
        db.session.rollback()
        raise CodeJustSent(
            _("A code was just sent. Please wait a minute before asking again."), phone
        )
    hour = now - timedelta(hours=1)
    if (
        _sent_since(LoginCode.phone, phone, hour) > PER_PHONE_HOURLY
        or _sent_since(LoginCode.ip, ip, hour) > PER_IP_HOURLY
    ):
        db.session.rollback()
        raise InvalidInput(_("Too many codes requested. Please try again in an hour."))
    db.session.commit()
    try:
        sender().send(
            phone,
            _(
                "Your %(shop)s sign-in code is %(code)s. It expires in %(minutes)d minutes.",
                shop=current_app.config["SHOP_NAME"],
                code=code,
                minutes=minutes,
            ),
        )
    except SendFailed:
        raise InvalidInput(_("We could not send the code. Please try again later.")) from None
    return phone


class CodeJustSent(InvalidInput):
    """A code went to this phone less than a minute ago: it still works (``phone``, tidied)."""

    code = "code_just_sent"

    def __init__(self, message: str, phone: str) -> None:
        super().__init__(message)
        self.phone = phone


def verify_code(raw_phone: str, code: str) -> Customer:
    """Spend a code and return the customer (created on first sign-in). Raises InvalidInput."""
    phone = normalize_phone(raw_phone)
    code = (code or "").strip()
    wrong = InvalidInput(_("That code is wrong. Check the text message and try again."))
    if not (len(code) == 6 and code.isdigit()):
        raise wrong
    login = db.session.scalar(
        select(LoginCode)
        .where(
            LoginCode.phone == phone, LoginCode.used_at.is_(None), LoginCode.expires_at > utcnow()
        )
        .order_by(LoginCode.created_at.desc(), LoginCode.id.desc())
        .limit(1)
    )
    gone = InvalidInput(_("That code has expired, or was used. Request a new one."))
    if login is None:
        raise gone
    counted = db.session.execute(
        update(LoginCode)
        .where(LoginCode.id == login.id, LoginCode.attempts < MAX_ATTEMPTS)
        .values(attempts=LoginCode.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not counted:
        raise InvalidInput(_("Too many wrong codes. Request a new one."))
    if not hmac.compare_digest(login.code_hash, _digest(phone, code)):
        raise wrong
    spent = db.session.execute(
        update(LoginCode)
        .where(LoginCode.id == login.id, LoginCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not spent:
        raise gone  # the right code, spent a moment ago by another submission
    customer = db.session.scalar(select(Customer).where(Customer.phone == phone))
    try:
        if customer is None:
            customer = Customer(phone=phone)
            db.session.add(customer)
            db.session.flush()
            outbox.publish(CustomerTopic.CREATED, customer.id, None)  # with the row, or not
        db.session.commit()
    except IntegrityError:  # created by a checkout a moment ago
        db.session.rollback()
        customer = db.session.scalar(select(Customer).where(Customer.phone == phone))
    return customer
