"""Member tiers and the tasks that reach them."""

from __future__ import annotations

from flask import current_app
from flask_admin.model.form import InlineFormAdmin
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select
from wtforms.validators import InputRequired, NumberRange, Optional

from admin.base import StaffModelView
from admin.kit.bilingual import bilingual_labels, english_field_args
from admin.kit.fields import MoneyField, PercentField
from admin.kit.formatters import money_formatter
from admin.kit.lookup import LookupField
from admin.members.pickers import template_name_formatter
from shop.catalog.models import Product
from shop.extensions import db
from shop.members import coupons, tiers
from shop.members.models import TaskKind, TierTask
from shop.money import format_money

TASK_LABELS = TaskKind.labels()


class TierTaskInline(InlineFormAdmin):
    form_columns = ["id", "kind", "product_id", "amount", "days", "count"]
    form_label = _l("Task")
    form_overrides = {"product_id": LookupField, "amount": MoneyField}
    form_choices = {"kind": list(TASK_LABELS.items())}
    form_args = {
        "kind": {"label": _l("Task")},
        "product_id": {"label": _l("Product (buy a product)"), "kind": "product"},
        "amount": {"label": _l("Amount (spend)")},
        "days": {
            "label": _l("Within days (spend; empty: ever)"),
            "validators": [Optional(), NumberRange(min=1, max=3650)],
        },
        "count": {
            "label": _l("Friends (bring friends)"),
            "validators": [Optional(), NumberRange(min=0, max=100000)],
        },
    }


def task_label(task: TierTask) -> str:
    if task.kind == "buy_product":
        name = db.session.scalar(select(Product.name).where(Product.id == task.product_id))
        return _("Buy %(product)s", product=name or "?")
    if task.kind == "spend":
        amount = format_money(task.amount, current_app.config["SHOP_CURRENCY"])
        if task.days:
            return _("Spend %(amount)s within %(days)d days", amount=amount, days=task.days)
        return _("Spend %(amount)s", amount=amount)
    return ngettext(
        "Bring %(num)d friend who pays for an order",
        "Bring %(num)d friends who pay for an order",
        task.count,
    )


def _tasks(view, context, model, name):
    return "; ".join(task_label(task) for task in model.tasks)


class MemberTierView(StaffModelView):
    permission = "members.view"
    edit_permission = "members.edit"
    audit_name = "member_tier"
    column_list = [
        "rank",
        "name",
        "name_en",
        "discount_bp",
        "points_multiplier_pct",
        "free_shipping_from",
        "benefit_template_id",
        "retention_days",
        "tasks",
    ]
    column_details_list = [*column_list, "description", "description_en"]
    column_labels = {
        **bilingual_labels("name", "name_en", "description", "description_en"),
        "rank": _l("Rank"),
        "discount_bp": _l("Member discount (%)"),
        "points_multiplier_pct": _l("Points multiplier"),  # ×1.5 in lists; the form asks %
        "free_shipping_from": _l("Free delivery from"),
        "benefit_template_id": _l("Benefit coupon"),
        "retention_days": _l("Re-qualify within (days)"),
        "tasks": _l("Tasks (all needed)"),
    }
    column_formatters = {
        "discount_bp": lambda v, c, m, n: f"{coupons.hundredths(m.discount_bp)}%",
        "points_multiplier_pct": lambda v, c, m, n: (
            f"×{coupons.hundredths(m.points_multiplier_pct)}"
        ),
        "free_shipping_from": money_formatter(),
        "benefit_template_id": template_name_formatter,
        "tasks": _tasks,
    }
    column_default_sort = "rank"
    form_columns = [
        "name",
        "name_en",
        "description",
        "description_en",
        "rank",
        "discount_bp",
        "points_multiplier_pct",
        "free_shipping_from",
        "benefit_template_id",
        "retention_days",
        "tasks",
    ]
    form_overrides = {
        "discount_bp": PercentField,
        "free_shipping_from": MoneyField,
        "benefit_template_id": LookupField,
    }
    form_widget_args = {"description": {"rows": 3}, "description_en": {"rows": 3}}
    form_args = {
        **english_field_args("name_en", "description_en"),
        "rank": {
            "validators": [InputRequired(), NumberRange(min=0, max=1000)],
            "description": _l("Higher ranks are higher tiers; each rank is used once."),
        },
        "discount_bp": {"validators": [InputRequired()], "description": _l("Such as 5 or 2.5.")},
        "points_multiplier_pct": {
            "label": _l("Points multiplier (%)"),
            "validators": [InputRequired(), NumberRange(min=0, max=1000)],
            "description": _l("100 earns the usual points; 150 earns 1.5 times."),
        },
        "free_shipping_from": {"description": _l("Empty: no free delivery benefit.")},
        "benefit_template_id": {
            "kind": "coupon_template",
            "description": _l("Given once to each member who reaches the tier."),
        },
        "retention_days": {
            "validators": [Optional(), NumberRange(min=1, max=3650)],
            "description": _l("Empty: members keep the tier."),
        },
    }
    inline_models = [TierTaskInline(TierTask)]

    def audit_snapshot(self, model) -> dict:
        data = super().audit_snapshot(model)
        data["tasks"] = [
            {
                "kind": t.kind,
                "product_id": t.product_id,
                "amount": t.amount,
                "days": t.days,
                "count": t.count,
            }
            for t in model.tasks
        ]
        return data

    def on_model_change(self, form, model, is_created):
        tiers.check_tier(model)
        super().on_model_change(form, model, is_created)
