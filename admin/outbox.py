"""The outbox in the admin panel: the work that changes set in motion (commission, points,
tiers, rewards, expiries), its state, and a retry for what kept failing.

A failed event stays visible here with its last error until someone retries it: retrying
starts it again from its first attempt, delivered after the retry commits.
"""

from __future__ import annotations

from flask import flash
from flask_admin.actions import action
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from admin.base import StaffModelView
from admin.kit.formatters import choice_formatter
from shop.infra import outbox
from shop.infra.outbox import OutboxStatus
from shop.infra.unit_of_work import unit_of_work


class OutboxEventView(StaffModelView):
    permission = "outbox.view"
    action_permission = "outbox.retry"
    allow_create = allow_edit = allow_delete = False
    column_list = [
        "id",
        "topic",
        "handler",
        "args",
        "status",
        "attempts",
        "available_at",
        "last_error",
        "created_at",
        "done_at",
    ]
    column_labels = {
        "id": _l("Id"),
        "topic": _l("Event"),
        "handler": _l("Handler"),
        "args": _l("Arguments"),
        "status": _l("Status"),
        "attempts": _l("Attempts"),
        "available_at": _l("Next attempt"),
        "last_error": _l("Last error"),
        "created_at": _l("Created"),
        "done_at": _l("Done"),
    }
    column_formatters = {
        "status": choice_formatter(OutboxStatus.labels()),
    }
    column_filters = ["status", "topic", "handler", "created_at"]
    column_searchable_list = ["topic", "handler", "last_error"]
    column_default_sort = ("id", True)

    @action("retry", _l("Retry"), _l("Deliver the selected failed events again?"))
    def action_retry(self, ids):
        with unit_of_work():
            retried = sum(outbox.retry(int(event_id)) for event_id in ids)
        flash(
            ngettext("%(num)d event queued again.", "%(num)d events queued again.", retried),
            "success" if retried else "warning",
        )
