"""The distribution programme's settings: binding policy, protection and validity, depth,
self-purchases, return window, promoter approval."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import InputRequired, NumberRange

from admin.kit.formatters import choice_formatter
from admin.kit.pages import SingleRowView
from distribution import programme, sharing
from distribution.models import BindingPolicy

POLICY_LABELS = BindingPolicy.labels()


class ProgrammeSettingsView(SingleRowView):
    permission = "programme.edit"
    edit_permission = "programme.edit"
    audit_name = "distribution_settings"
    column_details_list = form_columns = [
        "binding_policy",
        "protection_days",
        "validity_days",
        "depth",
        "self_purchase_earns",
        "return_window_days",
        "promoter_approval",
        "live_invite_outranks_binding",
    ]
    column_labels = {
        "binding_policy": _l("Binding policy"),
        "protection_days": _l("Protection period (days)"),
        "validity_days": _l("Validity period (days)"),
        "depth": _l("Distribution depth"),
        "self_purchase_earns": _l("Self-purchases earn commission"),
        "return_window_days": _l("Return window (days)"),
        "promoter_approval": _l("Promoters need approval"),
        "live_invite_outranks_binding": _l("A live invite outranks a binding"),
    }
    column_formatters = {"binding_policy": choice_formatter(POLICY_LABELS)}
    form_choices = {"binding_policy": list(POLICY_LABELS.items())}
    form_overrides = {"depth": SelectField}
    form_args = {
        "binding_policy": {
            "description": _l(
                "First sharer protected: during the protection period another sharer's link "
                "does not take the customer over. Last click: the newest link opened wins."
            )
        },
        "protection_days": {
            "validators": [InputRequired(), NumberRange(min=0, max=3650)],
            "description": _l("How long a binding is protected from other sharers' links."),
        },
        "validity_days": {
            "validators": [InputRequired(), NumberRange(min=0, max=3650)],
            "description": _l("After this a binding credits no one; 0 keeps it for good."),
        },
        "depth": {
            "choices": [
                (1, _l("1 level: the sharer")),
                (2, _l("2 levels: the sharer and who recruited them")),
            ],
            "coerce": int,
        },
        "return_window_days": {
            "validators": [InputRequired(), NumberRange(min=0, max=365)],
            "description": _l("Pending commission is settled this many days after payment."),
        },
        "self_purchase_earns": {
            "description": _l("When off, a sharer buying through their own link earns nothing.")
        },
        "promoter_approval": {
            "description": _l("When on, new promoters wait until staff approve them.")
        },
        "live_invite_outranks_binding": {
            "description": _l(
                "When on, a live session's orders credit the invite the buyer came through, "
                "even if they are bound to another sharer; when off, the binding decides."
            )
        },
    }

    def load_row(self):
        return sharing.settings()

    def on_model_change(self, form, model, is_created):
        programme.check_settings(model)
        super().on_model_change(form, model, is_created)
