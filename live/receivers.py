"""What live selling does when the shop's orders move (registered in ``init_app``)."""

from __future__ import annotations


def init_app(app) -> None:
    """Connects live selling to the shop's order events (filled in with the flash units)."""
