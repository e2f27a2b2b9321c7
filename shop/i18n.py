"""The reader's language: rows named in both interface languages, and times in the reader's locale.

Catalog rows keep their names and descriptions in both interface languages: ``name`` in
Chinese and ``name_en`` in English (likewise ``description`` / ``description_en``,
``description_html`` / ``description_html_en``). A reader sees their own language's text, or
the other's when that one was left empty, so a shop that fills in only one language still
shows every name.
"""

from __future__ import annotations

from datetime import datetime

from babel import Locale
from flask_babel import format_date, format_time, get_locale


def reads_english() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "en"


def localized(row, field: str = "name") -> str:
    """``row.<field>`` in the reader's language (``<field>_en`` for English readers), falling
    back to the other language when it is empty."""
    if row is None:
        return ""
    chinese, english = getattr(row, field, "") or "", getattr(row, f"{field}_en", "") or ""
    return (english or chinese) if reads_english() else (chinese or english)


def variant_name(variant) -> str:
    """What a message calls a variant in the reader's language: its product's name, then its
    own when it has one ("乌龙茶礼盒 单只")."""
    return f"{localized(variant.product)} {localized(variant)}".strip()


def medium_datetime(moment: datetime) -> str:
    """A stored (naive UTC) time in the shop's zone as the reader's locale writes a date with
    its month spelled out and the time to the minute: "Dec 6, 2026, 4:13 PM",
    "2026年12月6日 16:13" (never the ambiguous all-digit "12/6/26")."""
    locale = get_locale() or Locale.parse("en")
    return (
        str(locale.datetime_formats["medium"])
        .replace("'", "")
        .replace("{1}", format_date(moment, "medium"))
        .replace("{0}", format_time(moment, "short"))
    )
