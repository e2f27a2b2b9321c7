"""Live selling's jobs: plain functions taking ids, safe to run twice (``shop.infra.queue``).

Registered in ``live.receivers.init_app``: the sweeps on the app, the handlers on the outbox.
"""

from __future__ import annotations

from live import flash, reminders, services
from shop.infra.unit_of_work import unit_of_work


def end_silent_sessions() -> int:
    """Sweep: end the sessions whose host console fell silent (each its own transaction)."""
    return services.end_silent_sessions()


def release_live_units(order_id: int) -> int:
    """An order's live reservation ended: if still unpaid, its units go back to the shelf."""
    with unit_of_work():
        return flash.release(order_id)


def release_due_units() -> int:
    """Sweep behind the timers: every unpaid order past its live reservation gives back."""
    return flash.release_due()


def settle_paid_live_order(order_id: int) -> str:
    """A paid order keeps its live units, takes released ones again, or is refunded."""
    return flash.settle_paid(order_id)


def send_reminders(session_id: int, change: str = "") -> int:
    """The session went live: text its "Remind me" customers, each once."""
    return reminders.send_due(session_id, change)
