"""Telling staff something by email: a pluggable mailer, as texts to customers are
(``shop.customers.sms``).

Configure ``MAIL_SENDER`` with the dotted path of a class implementing ``Mailer`` (constructed
with the app config). The default, ``LogMailer``, writes the message to the log (development,
the demo). ``SmtpMailer`` hands it to ``SMTP_HOST``:``SMTP_PORT`` (STARTTLS unless
``SMTP_STARTTLS=0``; signed in with ``SMTP_USER`` and ``SMTP_PASSWORD`` when set), from
``MAIL_FROM``. A mailer raises when the message could not be handed over: callers run in the
outbox, which tries again.
"""

from __future__ import annotations

import importlib
import logging
import smtplib
from email.message import EmailMessage
from typing import Protocol

from flask import current_app
from sqlalchemy import select

from shop.extensions import db
from shop.staff.models import Role, Staff

log = logging.getLogger("siyu.mail")


class Mailer(Protocol):
    def __init__(self, config) -> None: ...

    def send(self, to: str, subject: str, body: str) -> None: ...


class LogMailer:
    """Development mailer: the message goes to the application log."""

    def __init__(self, config) -> None:
        self.config = config

    def send(self, to: str, subject: str, body: str) -> None:
        log.warning("Mail to %s: %s\n%s", to, subject, body)


class SmtpMailer:
    def __init__(self, config) -> None:
        self.config = config

    def send(self, to: str, subject: str, body: str) -> None:
        config = self.config
        message = EmailMessage()
        message["From"] = config["MAIL_FROM"]
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=10) as smtp:
            if config["SMTP_STARTTLS"]:
                smtp.starttls()
            if config["SMTP_USER"]:
                smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
            smtp.send_message(message)


def mailer() -> Mailer:
    ext = current_app.extensions
    if "mail_sender" not in ext:
        module, _, name = current_app.config["MAIL_SENDER"].rpartition(".")
        ext["mail_sender"] = getattr(importlib.import_module(module), name)(current_app.config)
    return ext["mail_sender"]


def owners() -> list[Staff]:
    """The shop's active owners."""
    return list(
        db.session.scalars(
            select(Staff).where(Staff.role == Role.OWNER, Staff.active.is_(True)).order_by(Staff.id)
        )
    )


def tell_owners(subject: str, body: str) -> int:
    """Mail every active owner; returns how many were mailed."""
    told = 0
    for owner in owners():
        if owner.email:
            mailer().send(owner.email, subject, body)
            told += 1
    return told
