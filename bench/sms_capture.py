"""The bench's SMS sender: every text is appended to the file named by ``BENCH_SMS_FILE`` (one
line each), so the bench can sign a member in over HTTP as a customer would and give wrk that
member's real cookies. Configured with ``SMS_SENDER=sms_capture.CaptureSender`` (bench/ is on
gunicorn's Python path)."""

from __future__ import annotations

import os
import re


class CaptureSender:
    def __init__(self, config) -> None:
        self.path = os.environ["BENCH_SMS_FILE"]

    def send(self, phone: str, message: str) -> None:
        with open(self.path, "a", encoding="utf-8") as texts:
            texts.write(f"{phone}\t{' '.join(message.split())}\n")


def last_code(path: str, phone: str) -> str:
    """The six-digit code in the newest text to ``phone`` (a sign-in code)."""
    with open(path, encoding="utf-8") as texts:
        messages = [line.split("\t", 1)[1] for line in texts if line.startswith(phone + "\t")]
    return re.findall(r"\b\d{6}\b", messages[-1])[0]
