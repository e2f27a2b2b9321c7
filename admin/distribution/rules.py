"""Commission rules: drafts, publishing, back-tests and the preview of an order."""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.model.template import BaseListRowAction, DeleteRowAction, EditRowAction
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms.validators import Length, ValidationError

from admin.kit.fields import KindValueField
from admin.kit.forms import IdForm
from admin.kit.lookup import LookupField
from admin.kit.pages import ActionButton, ToolsListView
from admin.permissions import current_staff
from distribution import commission, rules
from distribution.attribution import explain
from distribution.models import Attribution, CommissionRule, RuleKind, RuleScope
from shop.catalog.models import Category, Product, Store, Variant
from shop.extensions import db
from shop.members.coupons import hundredths
from shop.money import format_money
from shop.orders.models import Order
from shop.orders.numbers import parse_order_number

SCOPE_LABELS = RuleScope.labels()
SCOPE_MODELS = {"sku": Variant, "product": Product, "category": Category, "store": Store}


RULE_KIND_LABELS = RuleKind.labels()


BACKTEST_ROWS_SHOWN = 200


class DraftsOnly(BaseListRowAction):
    """A row action (edit, delete) shown only on draft rules: published ones never change."""

    def __init__(self, inner: BaseListRowAction):
        super().__init__(inner.title)
        self.inner = inner

    def render(self, context, row_id, row):
        return self.inner.render(context, row_id, row) if row.status == "draft" else ""


def _rule_value(view, context, model, name):
    value = getattr(model, name)
    if model.kind == "percent":
        return f"{hundredths(value)}%"
    currency = current_app.config["SHOP_CURRENCY"]
    return _("%(amount)s per unit", amount=format_money(value, currency))


def _applies_to(view, context, model, name):
    target = SCOPE_MODELS.get(model.scope)
    if target is None:
        return _("Everything")
    found = db.session.get(target, model.scope_id)
    named = found.sku if isinstance(found, Variant) else getattr(found, "name", None)
    return f"{named} (#{model.scope_id})" if named else f"#{model.scope_id}"


def _rule_tools(view, context, model, name):
    if model.status != "draft":
        return ""
    return Markup('<a href="{}">{}</a>').format(
        url_for("admin_rules.backtest_view", id=model.id), _("Back-test…")
    )


class PublishRule(ActionButton):
    """The draft's "Publish" button on its back-test page."""

    permission = "rules.publish"

    def run(self, rule):
        self.view.publish(rule)


class CommissionRuleView(ToolsListView):
    permission = "rules.view"
    edit_permission = "rules.edit"
    action_permission = "rules.publish"
    allow_delete = True
    audit_name = "commission_rule"
    list_intro = _l(
        "The most specific published rule wins: SKU > product > category > store > default. "
        "Without any published rule a sale earns 10% (level 1) and 5% (level 2). Published "
        "rules never change: make a draft, back-test it, then publish it; it replaces the rule "
        "of the same scope and target, and every commission line keeps the version it used."
    )
    tools = ((_l("Preview an order…"), ".preview_view", None),)
    publish_view = PublishRule.route("/publish/")
    column_list = [
        "scope",
        "applies_to",
        "kind",
        "level1_value",
        "level2_value",
        "status",
        "version",
        "note",
        "published_at",
        "tools",
    ]
    column_details_list = [
        "scope",
        "applies_to",
        "kind",
        "level1_value",
        "level2_value",
        "status",
        "version",
        "note",
        "created_at",
        "published_at",
        "tools",
    ]
    column_labels = {
        "scope": _l("Scope"),
        "scope_id": _l("Applies to"),
        "applies_to": _l("Applies to"),
        "kind": _l("Kind"),
        "level1_value": _l("Level 1"),
        "level2_value": _l("Level 2"),
        "level1": _l("Level 1"),
        "level2": _l("Level 2"),
        "status": _l("Status"),
        "version": _l("Version"),
        "note": _l("Note"),
        "created_at": _l("Made"),
        "published_at": _l("Published"),
        "tools": "",
    }
    column_formatters = {
        "applies_to": _applies_to,
        "level1_value": _rule_value,
        "level2_value": _rule_value,
        "tools": _rule_tools,
    }
    column_filters = ["status", "scope", "kind"]
    column_sortable_list = ["scope", "status", "version", "published_at"]
    column_default_sort = ("id", True)
    form_columns = ["scope", "scope_id", "kind", "level1", "level2", "note"]
    form_choices = {"scope": list(SCOPE_LABELS.items()), "kind": list(RULE_KIND_LABELS.items())}
    form_overrides = {"scope_id": LookupField}
    form_args = {
        "scope": {"default": "default"},
        "scope_id": {
            "kind_from": "scope",
            "kinds": {
                "sku": "variant",
                "product": "product",
                "category": "category",
                "store": "store",
            },
            "description": _l("The SKU, product, category or store the rule applies to."),
        },
        "note": {"validators": [Length(max=255)]},
    }
    form_extra_fields = {
        "level1": KindValueField(
            _l("Level 1"),
            description=_l(
                "What the sharer earns: a percentage such as 10 or 12.5, or an amount per unit "
                "such as 5.00."
            ),
        ),
        "level2": KindValueField(
            _l("Level 2"),
            description=_l("What the sharer's recruiter earns, in the same unit (0 for nothing)."),
        ),
    }

    def get_list_row_actions(self):
        return [
            DraftsOnly(a) if isinstance(a, EditRowAction | DeleteRowAction) else a
            for a in super().get_list_row_actions()
        ]

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if not form.level1.data:
            form.level1.data, form.level2.data = "10", "5"
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if obj is not None and request.method == "GET":
            form.level1.show(obj.level1_value, obj.kind == "percent")
            form.level2.show(obj.level2_value, obj.kind == "percent")
        return form

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        rule = self.get_one(request.args.get("id"))
        if rule.status != "draft":
            flash(_("A published rule never changes: make a new draft instead."), "warning")
            return redirect(url_for(".details_view", id=rule.id))
        return super().edit_view()

    def on_model_change(self, form, model, is_created):
        is_percent = model.kind == "percent"
        try:
            model.level1_value = form.level1.to_stored(is_percent)
            model.level2_value = form.level2.to_stored(is_percent)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        rules.save_draft(model)
        super().on_model_change(form, model, is_created)

    def on_model_delete(self, model):
        rules.check_delete(model)
        super().on_model_delete(model)

    def publish(self, rule: CommissionRule) -> None:
        published = rules.publish(rule.id, current_staff())
        flash(
            _(
                "Rule %(id)s is published as version %(version)s.",
                id=published.id,
                version=published.version,
            ),
            "success",
        )

    @action(
        "publish",
        _l("Publish"),
        _l("Publish the selected drafts? Each replaces the published rule of its scope."),
    )
    def action_publish(self, ids):
        self.each(self.get_scoped(ids), self.publish)

    @expose("/backtest/")
    def backtest_view(self):
        """What the paid orders of the last N days earn now, and would with this draft."""
        rule = self.get_one(request.args.get("id"))
        text = (request.args.get("days") or "30").strip()
        days = int(text) if text.isdigit() and 1 <= int(text) <= 366 else 30
        result = rules.backtest(rule.id, days)
        form = IdForm()
        form.id.data = str(rule.id)
        return self.render(
            "admin/siyu/rule_backtest.html",
            rule=rule,
            result=result,
            rows=result.rows[:BACKTEST_ROWS_SHOWN],
            days=days,
            form=form,
            applies_to=_applies_to(self, None, rule, "scope_id"),
            level1=_rule_value(self, None, rule, "level1_value"),
            level2=_rule_value(self, None, rule, "level2_value"),
            scope_label=SCOPE_LABELS.get(rule.scope, rule.scope),
        )

    @expose("/preview/")
    def preview_view(self):
        """What each line of an order earns under the published rules, and why."""
        text = (request.args.get("order") or "").strip()
        order, attribution, rows = None, None, []
        if text:
            order_id = parse_order_number(text)
            order = db.session.get(Order, order_id) if order_id else None
            if order is None:
                flash(_("No order has the number %(n)s.", n=text), "error")
            else:
                attribution = db.session.get(Attribution, order.id)
        if attribution is not None and attribution.sharer_id:
            for row in commission.preview(order, attribution):
                rate = row["rate"]
                rule = db.session.get(CommissionRule, rate.rule_id) if rate.rule_id else None
                rows.append(
                    {
                        **row,
                        "rule": rule,
                        "scope": SCOPE_LABELS.get(rate.scope, _("built-in default")),
                        "in_ledger": commission.line_net(row["line"].id, row["level"]),
                    }
                )
        return self.render(
            "admin/siyu/rule_preview.html",
            text=text,
            order=order,
            attribution=attribution,
            explanation=explain(attribution) if attribution is not None else "",
            rows=rows,
        )
