"""The bench's SMS sender: sign-in codes are written to the file named by ``BENCH_SMS_FILE``
(one ``phone code`` line each), so the bench can sign a member in over HTTP as a customer
would, and send that member's real cookies with wrk. Configured with
``SMS_SENDER=sms_capture.CaptureSender`` (bench/ is on gunicorn's Python path)."""

from __future__ import annotations

import os
import re


class CaptureSender:
    def __init__(self, config) -> None:
        self.path = os.environ["BENCH_SMS_FILE"]

    def send(self, phone: str, message: str) -> None:
        code = re.findall(r"\d{6}", message)[0]
        with open(self.path, "a", encoding="utf-8") as codes:
            codes.write(f"{phone} {code}\n")


def last_code(path: str) -> str:
    """The newest code sent."""
    with open(path, encoding="utf-8") as codes:
        return codes.read().split()[-1]
