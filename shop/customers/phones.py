"""Phone numbers: validation, normalisation and masking (138****1234)."""

import re

from flask_babel import lazy_gettext as _l

from shop.errors import InvalidInput

_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_INTERNATIONAL = re.compile(r"^\+[1-9]\d{7,14}$")


def normalize_phone(raw: str) -> str:
    """Return the phone number in canonical form or raise ``InvalidInput``.

    Accepts a mainland China mobile number (11 digits, optional +86) or any E.164 number.
    """
    phone = re.sub(r"[\s\-().]", "", raw or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if _CN_MOBILE.match(phone) or _INTERNATIONAL.match(phone):
        return phone
    raise InvalidInput(str(_l("Enter a valid mobile number, e.g. 13812341234 or +447700900123.")))


def mask_phone(phone: str | None) -> str:
    """Keep the first three and last four digits: ``13812341234 -> 138****1234``."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"
