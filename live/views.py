"""Live selling's own routes (the room and the host console are the live room's)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("live", __name__, url_prefix="/live")
