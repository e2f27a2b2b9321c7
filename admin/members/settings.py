"""Loyalty settings: how points are earned and spent, bring-a-friend rewards, the welcome
coupon."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import InputRequired, NumberRange

from admin.kit.fields import MoneyField
from admin.kit.formatters import choice_formatter, money_formatter
from admin.kit.lookup import LookupField
from admin.kit.pages import SingleRowView
from admin.members.pickers import template_name_formatter
from shop.members import points
from shop.members.models import CreditOn

CREDIT_LABELS = CreditOn.labels()


class LoyaltySettingsView(SingleRowView):
    permission = "members.view"
    edit_permission = "members.edit"
    audit_name = "loyalty_settings"
    column_details_list = form_columns = [
        "points_per_unit",
        "credit_on",
        "settle_days",
        "point_value",
        "redeem_cap_pct",
        "redeem_cap_points",
        "expiry_months",
        "referral_reward_points",
        "referral_reward_template_id",
        "referral_friend_template_id",
        "welcome_template_id",
    ]
    column_labels = {
        "points_per_unit": _l("Points per currency unit paid"),
        "credit_on": _l("Points are credited"),
        "settle_days": _l("Days until an order settles"),
        "point_value": _l("What one point is worth"),
        "redeem_cap_pct": _l("Points may pay at most (percent of the order)"),
        "redeem_cap_points": _l("Points one order may use at most"),
        "expiry_months": _l("Points expire after (months)"),
        "referral_reward_points": _l("Bring a friend: points for the referrer"),
        "referral_reward_template_id": _l("Bring a friend: coupon for the referrer"),
        "referral_friend_template_id": _l("Bring a friend: coupon for the friend"),
        "welcome_template_id": _l("Welcome coupon"),
    }
    column_formatters = {
        "credit_on": choice_formatter(CREDIT_LABELS),
        "point_value": money_formatter(),
        "referral_reward_template_id": template_name_formatter,
        "referral_friend_template_id": template_name_formatter,
        "welcome_template_id": template_name_formatter,
    }
    form_choices = {"credit_on": list(CREDIT_LABELS.items())}
    form_overrides = {
        "point_value": MoneyField,
        "referral_reward_template_id": LookupField,
        "referral_friend_template_id": LookupField,
        "welcome_template_id": LookupField,
    }
    form_args = {
        "points_per_unit": {"validators": [InputRequired(), NumberRange(min=0, max=10000)]},
        "settle_days": {
            "validators": [InputRequired(), NumberRange(min=0, max=365)],
            "description": _l("Used when points are credited once the order settles."),
        },
        "point_value": {
            "validators": [InputRequired()],
            "description": _l("Taken off an order per point spent, such as 0.01."),
        },
        "redeem_cap_pct": {"validators": [InputRequired(), NumberRange(min=0, max=100)]},
        "redeem_cap_points": {"validators": [InputRequired(), NumberRange(min=0, max=10**9)]},
        "expiry_months": {
            "validators": [InputRequired(), NumberRange(min=0, max=120)],
            "description": _l("0: points never expire."),
        },
        "referral_reward_points": {"validators": [InputRequired(), NumberRange(min=0, max=10**7)]},
        "referral_reward_template_id": {"kind": "coupon_template"},
        "referral_friend_template_id": {
            "kind": "coupon_template",
            "description": _l(
                "Given to a referred friend when their first order is paid. None: the welcome "
                "coupon, if they have not had it yet."
            ),
        },
        "welcome_template_id": {
            "kind": "coupon_template",
            "description": _l("Given on a customer's first sign-in."),
        },
    }

    def load_row(self):
        return points.settings()
