"""Sending a text to a customer's phone: a pluggable sender.

Configure ``SMS_SENDER`` with the dotted path of a class implementing ``Sender`` (constructed
with the app config). The default, ``shop.customers.sms.LogSender``, writes the message to the log,
for development and the demo: read the sign-in code from the server output.

A gateway (an SMS provider, a WeChat or WhatsApp template message) implements ``send``,
raises ``SendFailed`` when the message could not be handed over, and must not block for long:
the request that asked for a code is waiting.
"""

from __future__ import annotations

import importlib
import logging
from typing import Protocol

from flask import current_app

log = logging.getLogger("siyu.sms")


class SendFailed(Exception):
    pass


class Sender(Protocol):
    def __init__(self, config) -> None: ...

    def send(self, phone: str, message: str) -> None: ...


class LogSender:
    """Development sender: the message goes to the application log."""

    def __init__(self, config) -> None:
        self.config = config

    def send(self, phone: str, message: str) -> None:
        log.warning("SMS to %s: %s", phone, message)


def sender() -> Sender:
    ext = current_app.extensions
    if "sms_sender" not in ext:
        module, _, name = current_app.config["SMS_SENDER"].rpartition(".")
        ext["sms_sender"] = getattr(importlib.import_module(module), name)(current_app.config)
    return ext["sms_sender"]
