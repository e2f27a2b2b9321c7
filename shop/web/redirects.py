"""Where a return target may send someone: only to a path inside the shop.

One helper for every return target (``next`` after sign-in, the language switch, the staff
sign-in, the workbench, Flask-Admin's ``url``). Browsers drop tabs and line breaks from a
location and read a backslash as a slash, so "/<TAB>/evil.example" or "/\\evil.example" is
"//evil.example", another site: a target with whitespace, control characters or backslashes,
one starting with "//", or one with a scheme or host is refused, also once percent-decoding
is undone (up to three times, for double encodings). A refused target falls back to the
default; nothing here raises.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def _unsafe(path: str, prefix: str) -> bool:
    if not path.startswith("/") or not path.startswith(prefix) or path.startswith("//"):
        return True
    if "\\" in path or any(ch.isspace() or not ch.isprintable() for ch in path):
        return True
    parts = urlsplit(path)
    return bool(parts.scheme or parts.netloc)


def local_target(target: str | None, default: str, prefix: str = "/") -> str:
    """``target`` when it is a path under ``prefix`` on this site, else ``default``."""
    if not target or len(target) > 2048:
        return default
    seen = target
    for _ in range(4):
        if _unsafe(seen, prefix):
            return default
        decoded = unquote(seen)
        if decoded == seen:
            return target
        seen = decoded
    return default
