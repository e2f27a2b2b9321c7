"""Live sessions and their shelves, store-scoped; the session report and its CSV export."""

from __future__ import annotations

from flask import Response, flash
from flask_admin import expose
from flask_admin.actions import action
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from markupsafe import Markup
from sqlalchemy import select
from wtforms import SelectField, ValidationError
from wtforms.validators import InputRequired, NumberRange, Optional

from admin.base import StaffModelView
from admin.kit.fields import MoneyField
from admin.kit.formatters import choice_formatter, money_formatter
from admin.kit.pages import SingleRowView
from admin.permissions import store_scope
from live import reports, services, shelf, tips
from live.models import LiveSession, SessionStatus, StreamKind, TipStatus
from shop.catalog.models import Store

STATUS_LABELS = SessionStatus.labels()
STREAM_LABELS = StreamKind.labels()
TIP_LABELS = TipStatus.labels()


def _sessions_of(store_ids: list[int]):
    return select(LiveSession.id).where(LiveSession.store_id.in_(store_ids)).correlate(None)


class LiveView(StaffModelView):
    """A view of live rows: a manager's reach is the sessions of their stores."""

    permission = "live.view"
    edit_permission = "live.edit"
    export_permission = "live.view"

    def scope(self, query, model=None):
        ids = store_scope()
        if ids is None:
            return query
        if (model or self.model) is LiveSession:
            return query.filter(LiveSession.store_id.in_(ids))
        row = model or self.model
        return query.filter(row.session_id.in_(_sessions_of(ids)))

    def check_store(self, model) -> None:
        ids = store_scope()
        session = model if isinstance(model, LiveSession) else model.session
        if ids is not None and (session is None or session.store_id not in ids):
            raise ValidationError(_l("You can only change the data of your own stores."))


def _on_off_or_settings(value) -> bool | None:
    """A session's tips: on, off, or None (as the live settings say)."""
    if value in (None, "", "None"):
        return None
    return value in (True, "1", "True")


def _report_link(view, context, model, name):
    url = view.get_url(".report_view", id=model.id)
    return Markup('<a href="{}">{}</a>').format(url, _l("Report"))


class LiveSessionView(LiveView):
    """Sessions: a status comes from the host console, never from this form."""

    column_list = ["title", "store", "host", "status", "scheduled_at", "started_at", "ended_at"]
    column_list = [*column_list, "report"]
    column_details_list = [
        "title",
        "store",
        "host",
        "status",
        "stream_kind",
        "stream_url",
        "cover",
        "scheduled_at",
        "started_at",
        "last_heartbeat_at",
        "ended_at",
        "replay_url",
        "report",
    ]
    column_export_list = ["id", "title", "store", "host", "status", "scheduled_at", "ended_at"]
    column_labels = {
        "title": _l("Title"),
        "store": _l("Store"),
        "host": _l("Host guide"),
        "status": _l("Status"),
        "stream_kind": _l("Stream"),
        "stream_url": _l("Stream address"),
        "cover": _l("Cover image address"),
        "scheduled_at": _l("Starts at"),
        "started_at": _l("Went live"),
        "last_heartbeat_at": _l("Last heartbeat"),
        "ended_at": _l("Ended"),
        "replay_url": _l("Replay address"),
        "report": _l("Report"),
        "tips": _l("Tips"),
    }
    column_formatters = {
        "status": choice_formatter(STATUS_LABELS),
        "stream_kind": choice_formatter(STREAM_LABELS),
        "report": _report_link,
    }
    column_filters = ["status", "store.name", "scheduled_at"]
    column_searchable_list = ["title"]
    column_default_sort = ("id", True)
    form_columns = [
        "store",
        "host",
        "title",
        "stream_kind",
        "stream_url",
        "cover",
        "scheduled_at",
        "replay_url",
        "tips",
    ]
    form_choices = {"stream_kind": list(STREAM_LABELS.items())}
    form_overrides = {"tips": SelectField}
    form_args = {
        "tips": {
            "choices": [
                ("", _l("As in the live settings")),
                ("1", _l("On for this session")),
                ("0", _l("Off for this session")),
            ],
            "coerce": _on_off_or_settings,
            "description": _l(
                "Tips are off unless staff switch them on, here or for every "
                "session in the live settings."
            ),
        }
    }
    scoped_fields = {"store": Store}

    def on_model_change(self, form, model, is_created):
        services.check_stream(model.stream_kind, model.stream_url)
        if model.host is not None and model.host.store_id != model.store_id:
            raise ValidationError(_l("The host must be a guide of the session's store."))
        super().on_model_change(form, model, is_created)

    @expose("/report/<int:id>")
    def report_view(self, id: int):
        live = self.get_one(id)
        return self.render(
            "admin/siyu/live_report.html",
            live=live,
            report=reports.session_report(live),
            csv_url=self.get_url(".report_csv", id=live.id),
        )

    @expose("/report/<int:id>.csv")
    def report_csv(self, id: int):
        live = self.get_one(id)
        return Response(
            reports.csv_export(reports.session_report(live)),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename=live-{live.id}.csv"},
        )


class ShelfItemView(LiveView):
    """What a session sells at live prices: the price and stock are read at every purchase."""

    column_list = [
        "session",
        "product",
        "variant",
        "live_price",
        "per_customer_limit",
        "stock_cap",
        "sold",
        "starts_at",
        "ends_at",
    ]
    column_labels = {
        "session": _l("Session"),
        "session.title": _l("Session"),
        "product": _l("Product"),
        "product.name": _l("Product"),
        "variant": _l("Variant (empty: all)"),
        "live_price": _l("Live price"),
        "per_customer_limit": _l("Limit per customer"),
        "stock_cap": _l("Session stock cap"),
        "sold": _l("Units held by orders"),
        "starts_at": _l("Live price from"),
        "ends_at": _l("Live price until"),
        "position": _l("Position"),
    }
    column_formatters = {"live_price": money_formatter()}
    column_filters = ["session.title", "product.name"]
    form_columns = [
        "session",
        "product",
        "variant",
        "live_price",
        "per_customer_limit",
        "stock_cap",
        "starts_at",
        "ends_at",
        "position",
    ]
    form_overrides = {"live_price": MoneyField}
    form_args = {
        "live_price": {"validators": [InputRequired()]},
        "per_customer_limit": {"validators": [Optional(), NumberRange(min=1, max=999)]},
        "stock_cap": {
            "validators": [Optional(), NumberRange(min=0, max=1_000_000)],
            "description": _l("Units this session sells at most; empty: the product's stock."),
        },
    }

    def on_model_change(self, form, model, is_created):
        """The shelf's rules are live selling's (``live.shelf``), as on the host console."""
        self.check_store(model)
        shelf.check_item(model, model.session, new=is_created)
        super().on_model_change(form, model, is_created)


class LiveTipView(LiveView):
    """Tips for host guides: who gave how much is for staff only (never shown in the room);
    a paid tip can be refunded in full (Stripe, then the host's ledger)."""

    can_create = can_edit = can_delete = False
    action_permission = "orders.refund"
    column_list = ["id", "session", "host", "amount", "status", "created_at", "paid_at"]
    column_labels = {
        "session": _l("Session"),
        "host": _l("Host guide"),
        "amount": _l("Amount"),
        "status": _l("Status"),
        "created_at": _l("Created"),
        "paid_at": _l("Paid"),
    }
    column_formatters = {"amount": money_formatter(), "status": choice_formatter(TIP_LABELS)}
    column_filters = ["status", "session.title"]
    column_default_sort = ("id", True)

    @action("refund", _l("Refund"), _l("Refund the selected tips in full?"))
    def action_refund(self, ids):
        done = self.each(self.get_scoped(ids), lambda tip: tips.refund(tip.id))
        if done:
            flash(ngettext("%(num)d tip refunded.", "%(num)d tips refunded.", done), "success")


class LiveSettingsView(SingleRowView):
    permission = "live.view"
    edit_permission = "live.settings"
    audit_name = "live_settings"
    column_details_list = form_columns = [
        "auto_end_minutes",
        "reservation_minutes",
        "tips_enabled",
        "embed_hosts",
    ]
    column_labels = {
        "auto_end_minutes": _l("A silent session ends after (minutes)"),
        "reservation_minutes": _l("Live reservation and checkout grace (minutes)"),
        "tips_enabled": _l("Tips"),
        "embed_hosts": _l("Hosts whose players may be embedded"),
    }
    form_args = {
        "auto_end_minutes": {"validators": [InputRequired(), NumberRange(min=1, max=1440)]},
        "reservation_minutes": {
            "validators": [InputRequired(), NumberRange(min=1, max=1440)],
            "description": _l(
                "Unpaid live orders give their units back after this long; the live price "
                "also holds this long after the session stops."
            ),
        },
        "embed_hosts": {"description": _l("One host name per line, e.g. player.example.com.")},
    }

    def load_row(self):
        return services.settings_row()

    def on_model_change(self, form, model, is_created):
        services.check_settings(model)
        super().on_model_change(form, model, is_created)
