"""The API and webhooks in the admin panel (owners only): API keys, webhook endpoints, and the
delivery log with its attempts.

A new key's secret is shown once, in the message after it is made; only its hash is kept.
An endpoint's signing secret is on its details page; "Rotate secret" makes a new one while
the old one keeps signing for 24 hours. Deliveries are replayed one by one or all at once
(filter the log by time, select all, "Deliver again"); "Send test event" sends a ``webhook.test``.
"""

from __future__ import annotations

from flask import flash
from flask_admin.actions import action
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from markupsafe import Markup
from wtforms import SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from admin.base import StaffModelView
from admin.kit.formatters import choice_formatter, yes_no_mark
from admin.kit.times import admin_time
from admin.permissions import current_staff
from shop.api import keys, webhooks
from shop.api.models import DeliveryStatus, Scope
from shop.catalog.models import Store
from shop.extensions import db


class ApiKeyView(StaffModelView):
    permission = "api.manage"
    edit_permission = "api.manage"
    allow_edit = allow_delete = False
    column_list = [
        "name",
        "prefix",
        "scopes",
        "store_ids",
        "last_used_at",
        "created_at",
        "revoked_at",
    ]
    column_labels = {
        "name": _l("Name"),
        "prefix": _l("Key starts"),
        "scopes": _l("Scopes"),
        "store_ids": _l("Stores"),
        "last_used_at": _l("Last used"),
        "created_at": _l("Created"),
        "revoked_at": _l("Revoked"),
        "rate_per_second": _l("Requests per second"),
        "burst": _l("Burst"),
    }
    column_details_exclude_list = ["secret_hash"]
    column_formatters = {
        "prefix": lambda v, c, m, n: f"sy_{m.prefix}_…",
        "scopes": lambda v, c, m, n: ", ".join(m.scopes or []),
        "store_ids": lambda v, c, m, n: ", ".join(map(str, m.store_ids or [])) or _("All"),
    }
    form_columns = ["name", "scope_list", "store_list", "rate_per_second", "burst"]
    form_extra_fields = {
        "scope_list": SelectMultipleField(
            _l("Scopes"),
            choices=Scope.choices(),
            validators=[DataRequired()],
            description=_l("A write scope includes its read scope."),
        ),
        "store_list": SelectMultipleField(
            _l("Stores"),
            coerce=int,
            choices=[],
            description=_l("Only these stores' data, as their store manager; none: every store."),
        ),
    }
    form_args = {
        "name": {"validators": [DataRequired(), Length(max=120)]},
        "rate_per_second": {"default": 2, "validators": [NumberRange(min=1, max=1000)]},
        "burst": {"default": 40, "validators": [NumberRange(min=1, max=10000)]},
    }

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.store_list.choices = [
            (s.id, s.name) for s in db.session.query(Store).order_by(Store.id)
        ]
        return form

    def create_model(self, form):
        try:
            key, secret = keys.create_key(
                form.name.data,
                form.scope_list.data,
                store_ids=form.store_list.data,
                staff=current_staff(),
                rate_per_second=form.rate_per_second.data,
                burst=form.burst.data,
            )
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            if not self.handle_view_exception(exc):
                raise
            return False
        flash(_("Key made. Copy its secret now: it is not shown again.") + " " + secret, "success")
        return key

    @action("revoke", _l("Revoke"), _l("Revoke the selected keys? They stop working at once."))
    def action_revoke(self, ids):
        done = sum(keys.revoke(int(key_id), current_staff()) for key_id in ids)
        db.session.commit()
        flash(ngettext("%(num)d key revoked.", "%(num)d keys revoked.", done), "success")


def endpoint_state(view, context, model, name):
    """Active, or a red "Disabled" with since when (the shop turned it off after 24 h)."""
    if model.active or model.disabled_at is None:
        return yes_no_mark(view, model.active, name)
    return Markup('<span class="badge badge-danger">{}</span>').format(
        _("Disabled %(when)s", when=admin_time(model.disabled_at))
    )


class WebhookEndpointView(StaffModelView):
    """The endpoints; those the shop disabled after 24 h of failures are named in a banner
    above the list (and on the admin home)."""

    permission = "api.manage"
    edit_permission = "api.manage"
    allow_delete = False
    list_template = "admin/siyu/webhook_endpoints.html"
    column_list = ["url", "event_types", "store", "active", "failing_since", "disabled_at"]
    column_details_list = [
        "url",
        "description",
        "event_types",
        "store",
        "active",
        "secret",
        "previous_secret_until",
        "failing_since",
        "disabled_at",
        "created_at",
    ]
    column_labels = {
        "url": _l("Address"),
        "description": _l("Description"),
        "event_types": _l("Events"),
        "store": _l("Store"),
        "active": _l("Active"),
        "secret": _l("Signing secret"),
        "previous_secret_until": _l("Previous secret valid until"),
        "failing_since": _l("Failing since"),
        "disabled_at": _l("Disabled"),
        "created_at": _l("Created"),
    }
    column_formatters = {
        "event_types": lambda v, c, m, n: ", ".join(m.event_types or []) or _("All"),
        "store": lambda v, c, m, n: m.store.name if m.store else _("All"),
        "active": endpoint_state,
    }
    # The address field is not called ``url``: Flask-Admin reads a form's ``url`` as its return
    # address (and the base view refuses one outside the admin).
    form_columns = ["address", "description", "event_type_list", "store"]
    form_extra_fields = {
        "address": StringField(
            _l("Address"),
            validators=[DataRequired(), Length(max=500)],
            description=_l("The receiver's full address, such as https://erp.example.com/hooks."),
        ),
        "event_type_list": SelectMultipleField(
            _l("Events"),
            choices=[],
            description=_l("None selected: every event."),
        ),
    }
    form_args = {
        "store": {"description": _l("Only this store's events; empty: every store's.")},
    }

    def disabled_endpoints(self):
        return webhooks.disabled_endpoints()

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.event_type_list.choices = [(t, t) for t in webhooks.event_types()]
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        form.event_type_list.choices = [(t, t) for t in webhooks.event_types()]
        if obj is not None and not form.event_type_list.data:
            form.event_type_list.data = list(obj.event_types or [])
        if obj is not None and not form.address.data:
            form.address.data = obj.url
        return form

    def create_model(self, form):
        try:
            endpoint = webhooks.create_endpoint(
                form.address.data,
                form.event_type_list.data or [],
                form.store.data.id if form.store.data else None,
                current_staff(),
                description=form.description.data or "",
            )
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            if not self.handle_view_exception(exc):
                raise
            return False
        return endpoint

    def on_model_change(self, form, model, is_created):
        model.url = (form.address.data or "").strip()
        webhooks.check_url(model.url)
        model.event_types = sorted(form.event_type_list.data or [])
        super().on_model_change(form, model, is_created)

    @action("test", _l("Send test event"))
    def action_test(self, ids):
        for endpoint in self.get_scoped(ids):
            webhooks.send_test(endpoint)
        db.session.commit()
        flash(_("Test event queued."), "success")

    @action(
        "rotate",
        _l("Rotate secret"),
        _l("Make a new signing secret? The old one keeps signing for 24 hours."),
    )
    def action_rotate(self, ids):
        for endpoint in self.get_scoped(ids):
            webhooks.rotate_secret(endpoint, current_staff())
        db.session.commit()
        flash(_("New secret made: see the endpoint's details."), "success")

    @action("enable", _l("Enable"))
    def action_enable(self, ids):
        for endpoint in self.get_scoped(ids):
            webhooks.enable(endpoint, current_staff())
        db.session.commit()
        flash(_("Endpoint enabled."), "success")


class WebhookDeliveryView(StaffModelView):
    permission = "api.manage"
    action_permission = "api.manage"
    allow_create = allow_edit = allow_delete = False
    column_list = [
        "id",
        "event.type",
        "event.public_id",
        "endpoint",
        "status",
        "attempts",
        "last_status",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    ]
    column_labels = {
        "event.type": _l("Event"),
        "event.public_id": _l("Event id"),
        "endpoint": _l("Endpoint"),
        "status": _l("Status"),
        "attempts": _l("Attempts"),
        "last_status": _l("Last answer"),
        "next_attempt_at": _l("Next attempt"),
        "created_at": _l("Created"),
        "delivered_at": _l("Delivered"),
    }
    column_formatters = {"status": choice_formatter(DeliveryStatus.labels())}
    column_filters = ["status", "created_at", "event.type", "endpoint.url"]
    column_default_sort = ("id", True)

    @action("replay", _l("Deliver again"), _l("Send the selected deliveries again?"))
    def action_replay(self, ids):
        done = sum(webhooks.replay(int(delivery_id)) for delivery_id in ids)
        db.session.commit()
        flash(
            ngettext("%(num)d delivery queued again.", "%(num)d deliveries queued again.", done),
            "success",
        )


class WebhookAttemptView(StaffModelView):
    permission = "api.manage"
    allow_create = allow_edit = allow_delete = False
    column_list = [
        "id",
        "delivery_id",
        "delivery.event.type",
        "delivery.endpoint",
        "started_at",
        "status_code",
        "latency_ms",
        "response_start",
        "error",
    ]
    column_labels = {
        "delivery_id": _l("Delivery record"),
        "delivery.event.type": _l("Event"),
        "delivery.endpoint": _l("Endpoint"),
        "started_at": _l("Started"),
        "status_code": _l("Answer"),
        "latency_ms": _l("Latency (ms)"),
        "response_start": _l("Start of the answer"),
        "error": _l("Error"),
    }
    column_filters = ["started_at", "status_code", "delivery_id"]
    column_default_sort = ("id", True)
